"""``neuro evaluate``: a registered learner on its stream's test rows.

Writes ``evaluation.json`` into the output folder: the accuracy matrix and ACC / BWT / FWT /
forgetting of its training run (recorded with the version), the final accuracy of every
task now, coverage and risk at the calibrated threshold and the risk-coverage curve, memory
bytes, spikes and synaptic operations per input beside the multiply-accumulates a dense
layer over the same prototypes would do, prototype statistics and one spike raster.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from neuroplast.continual.neuromorphic._raw import raw_tasks
from neuroplast.continual.neuromorphic.learner import NeuromorphicLearner
from neuroplast.continual.neuromorphic.stream_run import encode_tasks
from neuroplast.continual.neuromorphic.workflow import load_learner
from neuroplast.errors import DataError
from neuroplast.registry import Registry
from neuroplast.registry.artifacts import atomic_write_json

__all__ = ["RESULTS_FILE", "evaluate_learner", "evaluate_version"]

logger = logging.getLogger(__name__)
RESULTS_FILE = "evaluation.json"
RASTER_ASSEMBLIES = 40
CURVE_POINTS = 200


def _curve(learner: NeuromorphicLearner, confidence: Tensor, correct: Tensor) -> dict[str, Any]:
    """The risk-coverage curve (at most ``CURVE_POINTS`` points) and its area."""
    curve = learner.composer.risk_coverage(confidence, correct)
    step = max(1, len(curve.coverage) // CURVE_POINTS)
    keep = list(range(0, len(curve.coverage), step))
    if keep[-1] != len(curve.coverage) - 1:
        keep.append(len(curve.coverage) - 1)
    return {
        "coverage": [curve.coverage[i] for i in keep],
        "risk": [curve.risk[i] for i in keep],
        "thresholds": [curve.thresholds[i] for i in keep],
        "aurc": curve.aurc,
    }


def _raster(learner: NeuromorphicLearner, concept: Tensor) -> dict[str, Any] | None:
    """The spike raster of one input's recall: the most active assemblies only."""
    if not learner.spiking:
        return None
    _, _, _, recall = learner.activity(concept.unsqueeze(0), record=True)
    if recall is None or recall.raster is None:
        return None
    spikes = recall.raster[0]  # [T, P]
    top = torch.argsort(spikes.sum(0), descending=True)[:RASTER_ASSEMBLIES]
    labels = learner.prototype_labels()[top]
    return {
        "assemblies": top.tolist(),
        "labels": [learner.class_names[int(c)] for c in labels],
        "spikes": spikes[:, top].to(torch.int8).tolist(),
    }


def _prototype_stats(learner: NeuromorphicLearner) -> dict[str, Any]:
    stats = learner.stats()
    counts = learner.memory.counts.tolist() if learner.memory is not None else []
    return {
        "prototypes": stats.prototypes,
        "per_class": stats.prototypes_per_class,
        "members": counts,
        "memory_bytes": stats.memory_bytes,
    }


def evaluate_learner(
    learner: NeuromorphicLearner, tasks: list[Any], recorded: dict[str, Any]
) -> dict[str, Any]:
    """The evaluation document of ``learner`` on encoded ``tasks``."""
    if not tasks:
        raise DataError("no tasks to evaluate on")
    concepts = torch.cat([t.test for t in tasks])
    labels = torch.cat([t.y_test for t in tasks])
    scored = learner.score_concepts(concepts)
    correct = scored.labels == labels
    answered = ~scored.abstained
    n, p = len(labels), learner.num_prototypes
    per_task, start = [], 0
    for t in tasks:
        stop = start + len(t.y_test)
        per_task.append(float(correct[start:stop].float().mean()))
        start = stop
    return {
        "model": recorded.get("ref"),
        "stream": recorded.get("stream"),
        "accuracy_matrix": recorded.get("accuracy_matrix"),
        **{k: recorded.get(k) for k in ("acc", "acc_std", "bwt", "fwt", "forgetting", "seeds")},
        "final_task_accuracy": per_task,
        "accuracy": float(correct.float().mean()),
        "threshold": learner.threshold,
        "coverage": float(answered.float().mean()),
        "risk": float((~correct[answered]).float().mean()) if answered.any() else 0.0,
        "abstain_on": learner.config.composer.abstain_on,
        "risk_coverage": _curve(learner, scored.support, correct),
        "memory_bytes": learner.memory_bytes(),
        "spikes_per_input": scored.spikes / n,
        "synops_per_input": scored.synops / n,
        "dense_macs_per_input": p * concepts.shape[1] + p * p * learner.config.snn.num_timesteps,
        "similarity_macs_per_input": p * concepts.shape[1],
        "test_inputs": n,
        "prototype_stats": _prototype_stats(learner),
        "raster": _raster(learner, concepts[0]),
    }


def evaluate_version(registry: Registry, ref: str, out: Path) -> tuple[dict[str, Any], Path]:
    """Evaluate a registered learner on its stream's test rows; write ``out/evaluation.json``."""
    from neuroplast.continual.sources import make_stream

    learner, version = load_learner(registry, ref)
    stream_cfg = learner.config.stream
    stream = make_stream(stream_cfg)
    tasks = encode_tasks(learner, raw_tasks(stream, stream_cfg))
    recorded = {**version.metrics, "ref": version.ref}
    document = evaluate_learner(learner, tasks, recorded)
    out.mkdir(parents=True, exist_ok=True)
    path = out / RESULTS_FILE
    atomic_write_json(path, document)
    logger.info("evaluated %s: accuracy %.4f", version.ref, document["accuracy"])
    return document, path
