"""``neuro train``: the learner over a class-incremental stream for every seed of the
config, measured like a continual run, and the first seed's learner registered as a
version (``source="continual"``, architecture ``neuromorphic``): its state as one
safetensors file plus one JSON file and the accuracy-matrix plots, hashes recorded, read
back verified by :func:`load_learner`."""

from __future__ import annotations

import bisect
import logging
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from neuroplast.continual.metrics import ContinualMetrics
from neuroplast.continual.neuromorphic._raw import RawTask, raw_tasks
from neuroplast.continual.neuromorphic.learner import NeuromorphicLearner
from neuroplast.continual.neuromorphic.persist import (
    learner_from_state,
    learner_meta,
    learner_tensors,
)
from neuroplast.continual.neuromorphic.run_config import NeuroRunConfig
from neuroplast.continual.neuromorphic.stream_run import (
    NeuroRun,
    TaskConcepts,
    encode_tasks,
    run_learner,
)
from neuroplast.continual.streams import Stream
from neuroplast.errors import ConfigError, ModelNotFoundError
from neuroplast.registry import Registry, VersionRecord

__all__ = [
    "ARCHITECTURE",
    "LEARNER_FILE",
    "STATE_FILE",
    "NeuroOutcome",
    "load_learner",
    "run_metrics",
    "train_learner",
]

logger = logging.getLogger(__name__)
ARCHITECTURE = "neuromorphic"
STATE_FILE, LEARNER_FILE = "neuro/state.safetensors", "neuro/learner.json"


@dataclass
class NeuroOutcome:
    stream: Stream
    runs: list[NeuroRun]
    version: VersionRecord | None = None
    plots: dict[str, Path] = field(default_factory=dict)


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def run_metrics(runs: list[NeuroRun]) -> dict[str, Any]:
    """What the registry records about the runs (means over seeds; matrix averaged)."""
    ms: list[ContinualMetrics] = [r.metrics for r in runs]
    t = len(ms[0].matrix)
    matrix = [[statistics.fmean(m.matrix[i][j] for m in ms) for j in range(t)] for i in range(t)]
    accs = [m.acc for m in ms]
    stats = runs[0].learner.stats()
    return {
        "strategy": "neuromorphic",
        "seeds": [r.learner.seed for r in runs],
        "acc": statistics.fmean(accs),
        "acc_std": statistics.stdev(accs) if len(accs) > 1 else None,
        "bwt": _mean([m.bwt for m in ms]),
        "fwt": _mean([m.fwt for m in ms]),
        "forgetting": _mean([m.forgetting for m in ms]),
        "accuracy_matrix": matrix,
        "random_init": ms[0].random_init,
        "train_seconds": round(statistics.fmean(r.train_seconds for r in runs), 2),
        "task_seconds": [round(s, 3) for s in runs[0].task_seconds],
        "encode_seconds": round(runs[0].encode_seconds, 2),
        "memory_bytes": max(r.learner.memory_bytes() for r in runs),
        "coverage": statistics.fmean(r.coverage for r in runs),
        "risk": statistics.fmean(r.risk for r in runs),
        "spikes_per_input": statistics.fmean(r.spikes_per_input for r in runs),
        "synops_per_input": statistics.fmean(r.synops_per_input for r in runs),
        "prototypes": stats.prototypes,
        "threshold": runs[0].learner.threshold,
    }


def train_learner(
    config: NeuroRunConfig,
    registry: Registry | None,
    *,
    on_task: Callable[[int, int, list[float]], None] | None = None,
) -> NeuroOutcome:
    """Every seed of ``config`` over its stream (encoded once); the first seed's learner
    registered in ``registry`` when given."""
    from neuroplast.continual.sources import make_stream

    if config.stream.scenario != "class":
        raise ConfigError(
            f"stream.scenario={config.stream.scenario}: `neuro train` is class-incremental "
            "(one label space, no task id at test time); set stream.scenario: class"
        )
    stream = make_stream(config.stream)
    tasks = raw_tasks(stream, config.stream)
    projected = (
        config.concept_encoder.projection_dim is not None
        and config.training.projection_task == "first"
    )
    runs: list[NeuroRun] = []
    shared: list[TaskConcepts] | None = None
    for seed in config.seeds:
        probe = None
        if shared is None or projected:  # a seeded head changes the concepts: encode again
            probe = NeuromorphicLearner(
                config, class_names=stream.label_names, seed=seed, registry=registry
            )
            probe.fit_projection(tasks[0].x_train, tasks[0].y_train)
            shared = encode_tasks(probe, tasks)
        report = None if on_task is None else partial(on_task, seed)
        run = run_learner(
            stream, config, seed=seed, concepts=shared, on_task=report, registry=registry
        )
        if projected and probe is not None:
            run.learner.encoder, run.learner.projection_fitted = probe.encoder, True
        runs.append(run)
    outcome = NeuroOutcome(stream, runs)
    if registry is not None:
        examples = example_inputs(runs[0].learner, tasks, stream.name)
        outcome.version, outcome.plots = register_learner(
            registry, config, stream, runs, examples=examples
        )
    return outcome


def example_inputs(
    learner: NeuromorphicLearner, tasks: list[RawTask], stream: str
) -> dict[str, str]:
    """What the evidence refs point at: ref (a training row's position in the stream) ->
    the text, or ``"<stream> task T training row R"`` for an image."""
    if learner.memory is None:
        return {}
    refs = sorted({int(r) for r in learner.memory.to_tensors()["example_refs"].flatten() if r >= 0})
    starts = [0]
    for task in tasks:
        starts.append(starts[-1] + len(task.y_train))
    out: dict[str, str] = {}
    for ref in refs:
        index = bisect.bisect_right(starts, ref) - 1
        if not 0 <= index < len(tasks):
            continue
        row, inputs = ref - starts[index], tasks[index].x_train
        text = inputs[row] if isinstance(inputs, list) else None
        out[str(ref)] = text[:300] if text else f"{stream} task {index + 1} training row {row}"
    return out


def register_learner(
    registry: Registry,
    config: NeuroRunConfig,
    stream: Stream,
    runs: list[NeuroRun],
    *,
    examples: dict[str, str] | None = None,
) -> tuple[VersionRecord, dict[str, Path]]:
    """Register ``runs[0]``'s learner with the metrics of every run."""
    from neuroplast.continual.record import _plots
    from neuroplast.inference.bundle import ModelMeta
    from neuroplast.workflows.register import reserve_version

    learner = runs[0].learner
    config_dict = config.model_dump(mode="json")
    run = registry.start_run(config.name, config_dict)
    meta = ModelMeta(
        architecture=ARCHITECTURE,
        modality=stream.modality,
        task="text_classification" if stream.modality == "text" else "image_classification",
        arch_config={"concept_encoder": config.concept_encoder.model_dump(mode="json")},
        label_names=stream.label_names,
        preprocessing={
            "input_shape": list(stream.input_shape),
            "input_range": list(stream.input_range),
        },
        data={"stream": config.stream.model_dump(mode="json")},
        name=config.name,
    )
    draft = reserve_version(registry, meta, config=config_dict, source="continual", run_id=run.id)
    draft.add_tensors(STATE_FILE, learner_tensors(learner))
    payload = {**learner_meta(learner), "model": meta.to_json(), "examples": examples or {}}
    draft.add_json(LEARNER_FILE, payload)
    metrics = {
        **run_metrics(runs),
        "stream": stream.name,
        "scenario": stream.scenario,
        "tasks": [t.classes for t in stream.tasks],
    }
    metrics["test_accuracy"] = metrics["acc"]
    plots = _plots(
        draft.artifact_dir, metrics["accuracy_matrix"], f"{draft.record.ref}: neuromorphic"
    )
    for key, path in plots.items():
        draft.add_file(f"plots/{path.name}", path)
        metrics[f"plot_{key}"] = str(path)
    version = registry.finalize_version(
        draft.record.id,
        files=draft.files,
        params_count=sum(t.numel() for t in learner_tensors(learner).values()),
        metrics=metrics,
    )
    registry.complete_run(run.id)
    logger.info("registered %s (neuromorphic learner)", version.ref)
    return version, plots


def load_learner(registry: Registry, ref: str) -> tuple[NeuromorphicLearner, VersionRecord]:
    """A registered learner, its files checked against the recorded sha256."""
    from neuroplast.registry.artifacts import read_json_verified, read_safetensors_verified

    version = registry.ensure_local(registry.resolve(ref))
    state, meta = version.artifacts.get(STATE_FILE), version.artifacts.get(LEARNER_FILE)
    if state is None or meta is None:
        raise ModelNotFoundError(
            f"{version.ref} is a {version.architecture} model, not a neuromorphic learner; "
            "train one with `neuroplast neuro train neuro.yaml`"
        )
    tensors = read_safetensors_verified(Path(state.path), state.sha256)
    payload = read_json_verified(Path(meta.path), meta.sha256)
    learner = learner_from_state(tensors, payload, registry=registry)
    learner.preprocessing = dict(payload.get("model", {}).get("preprocessing", {}))
    learner.examples = dict(payload.get("examples", {}))
    return learner, version
