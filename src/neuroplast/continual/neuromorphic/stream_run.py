"""The learner on a continual stream, task by task, measured like every strategy: the
accuracy matrix ``R`` (row ``i`` after task ``i``, on every task's test rows, class-IL) and
ACC / BWT / FWT / forgetting from :func:`neuroplast.continual.metrics.compute_metrics`.

Accuracy counts each input's top label (abstention does not change it); coverage and risk
at the calibrated threshold are reported apart. FWT's baseline ``b[j]`` is chance over the
classes seen through task ``j`` (there is no randomly initialised network to measure).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from neuroplast.continual.metrics import ContinualMetrics, chance_levels, compute_metrics
from neuroplast.continual.neuromorphic._raw import RawTask, raw_tasks
from neuroplast.continual.neuromorphic.learner import NeuromorphicLearner, Scored
from neuroplast.continual.neuromorphic.run_config import NeuroRunConfig
from neuroplast.continual.streams import Stream
from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.registry import Registry

__all__ = [
    "NeuroRun",
    "TaskConcepts",
    "default_config",
    "domain_prototypes",
    "encode_tasks",
    "run_learner",
    "run_neuromorphic",
]

logger = logging.getLogger(__name__)
#: The concepts of the stream ``continual compare`` runs, encoded once for all its seeds
#: (the backbone is frozen); held for one stream, the latest.
_ENCODED: dict[int, tuple[Stream, list[TaskConcepts], float]] = {}
OnTask = Callable[[int, list[float]], None] | None
#: the side EfficientNet-Lite0 sees on image streams (the image template's too): its native
#: 224, best in ACC and abstention on both image streams (docs/neuromorphic.md, "Input size")
IMAGE_SIZE = 224
#: The recall settings of the templates and of ``continual compare``: an assembly gets
#: current within 0.1 of the nearest prototype's similarity, strongly, and each spike
#: inhibits the others (a winner-take-all attractor; see learner.relative). Reward-modulated
#: STDP is off: with one prototype per class it can only learn a bias per assembly, from
#: the current task's rows alone, and that cost 0.5-1.9 points of ACC on split MNIST,
#: Fashion-MNIST and WordNet (docs/neuromorphic.md, "What STDP does").
SNN_DEFAULTS = {"input_offset": 0.9, "input_gain": 5.0, "lateral_inhibition": 0.5, "stdp_lr": 0.0}


@dataclass
class TaskConcepts:
    """One task's encoded train and test rows (global labels)."""

    classes: list[int]
    train: Tensor
    y_train: Tensor
    test: Tensor
    y_test: Tensor


@dataclass
class NeuroRun:
    learner: NeuromorphicLearner
    metrics: ContinualMetrics
    task_seconds: list[float]
    encode_seconds: float
    coverage: float
    risk: float
    spikes_per_input: float
    synops_per_input: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def train_seconds(self) -> float:
        return sum(self.task_seconds)


#: The prototype settings of the templates and of ``continual compare``: one prototype per
#: class, the running mean of its members (no creation, no split), compared after whitening
#: by the streaming covariance. Chosen on validation rows (20 % of each task's training
#: rows) of split MNIST and Fashion-MNIST: 0.92 / 0.85 ACC against 0.76 / 0.78 for the
#: earlier cosine memory of up to 500 EMA prototypes (docs/neuromorphic.md).
PROTOTYPE_DEFAULTS: dict[str, Any] = {
    "indexing_backend": "brute",
    "similarity": "whitened",
    "similarity_threshold": -1.0,
    "momentum": 0.999,
    "mean_warmup": True,
    "split_variance": 4.0,
    "max_prototypes": 500,
}
#: Whitened cosines are small (about 0.03 to the own class mean in 1,280 dimensions): a
#: colder softmax keeps the confidences from being flat.
COMPOSER_DEFAULTS: dict[str, Any] = {"temperature": 0.02}


def domain_prototypes(modality: str) -> dict[str, Any]:
    """Domain-incremental streams: a class there is a union of concepts (split MNIST's class
    0 holds the digits 0, 2, 4, 6 and 8), and one mean per class averages them away (R
    diagonal 100 / 72 / 50 on test_plasticity's stream, task 3 at chance). The earlier
    memory keeps a prototype per mode instead: a new cosine prototype below 0.5 for
    sentences, 0.85 for image features, at most 500."""
    return {
        "indexing_backend": "brute",
        "similarity_threshold": 0.5 if modality == "text" else 0.85,
        "max_prototypes": 500,
    }


def default_config(stream: Stream, stream_cfg: Any, seed: int) -> NeuroRunConfig:
    """The learner ``continual compare`` runs: MiniLM for texts, EfficientNet-Lite0 at 64
    pixels for images (no embedding cache: compare opens no registry), whitened class-mean
    prototypes (:data:`PROTOTYPE_DEFAULTS`; :func:`domain_prototypes` for domain-incremental
    streams), the templates' recall settings."""
    encoder: dict[str, Any] = {"encoder_type": "minilm", "use_cache": False}
    if stream.modality == "image":
        encoder = {
            "encoder_type": "efficientnet-lite0",
            "image_size": IMAGE_SIZE,
            "use_cache": False,
        }
    prototypes, composer = dict(PROTOTYPE_DEFAULTS), dict(COMPOSER_DEFAULTS)
    if stream.scenario == "domain":
        prototypes, composer = domain_prototypes(stream.modality), {}
    raw = {
        "stream": stream_cfg.model_dump(mode="json"),
        "concept_encoder": encoder,
        "prototype_manager": prototypes,
        "snn": dict(SNN_DEFAULTS),
        "composer": composer,
        "seeds": [seed],
    }
    return NeuroRunConfig.model_validate(raw)


def encode_tasks(learner: NeuromorphicLearner, tasks: list[RawTask]) -> list[TaskConcepts]:
    """Every task's rows through the (frozen) concept encoder, once."""
    return [
        TaskConcepts(
            t.classes, learner.embed(t.x_train), t.y_train, learner.embed(t.x_test), t.y_test
        )
        for t in tasks
    ]


def _accuracy(scored: Scored, labels: Tensor) -> float:
    return float((scored.labels == labels).float().mean())


def _task_accuracy(learner: NeuromorphicLearner, task: TaskConcepts, scenario: str) -> float:
    """Accuracy on a task's test rows; task-IL answers among the task's classes only."""
    allowed = task.classes if scenario == "task" else None
    return _accuracy(learner.score_concepts(task.test, allowed=allowed), task.y_test)


def run_learner(
    stream: Stream,
    config: NeuroRunConfig,
    *,
    seed: int,
    concepts: list[TaskConcepts] | None = None,
    spiking: bool = True,
    on_task: OnTask = None,
    registry: Registry | None = None,
) -> NeuroRun:
    """Train a fresh learner on every task of ``stream``; ``concepts`` (from
    :func:`encode_tasks`) skips the encoder when the stream was encoded already."""
    learner = NeuromorphicLearner(
        config, class_names=stream.label_names, seed=seed, spiking=spiking, registry=registry
    )
    started = time.perf_counter()
    if concepts is None:
        if config.concept_encoder.projection_dim is not None:
            raise ConfigError(
                "run_learner encodes the stream once; a projection head changes the concepts "
                "after the first task: use NeuromorphicLearner.fit_task per task instead"
            )
        concepts = encode_tasks(learner, raw_tasks(stream, config.stream))
    encode_seconds = time.perf_counter() - started
    matrix: list[list[float]] = []
    seconds: list[float] = []
    for i, task in enumerate(concepts):
        started = time.perf_counter()
        learner.fit_concepts(task.train, task.y_train)
        seconds.append(time.perf_counter() - started)
        matrix.append([_task_accuracy(learner, t, stream.scenario) for t in concepts])
        if on_task is not None:
            on_task(i, matrix[-1])
    final = learner.score_concepts(torch.cat([t.test for t in concepts]))
    labels = torch.cat([t.y_test for t in concepts])
    answered = ~final.abstained
    n = len(labels)
    risk = (
        float((final.labels[answered] != labels[answered]).float().mean())
        if answered.any()
        else 0.0
    )
    metrics = compute_metrics(matrix, chance_levels(stream))
    logger.info("neuromorphic seed %d: ACC %.4f", seed, metrics.acc)
    return NeuroRun(
        learner,
        metrics,
        seconds,
        encode_seconds,
        coverage=float(answered.float().mean()),
        risk=risk,
        spikes_per_input=final.spikes / n,
        synops_per_input=final.synops / n,
    )


class _NotABundle(nn.Module):
    """What ``RunResult.model`` holds for the neuromorphic learner: no torch bundle can be
    made of it, so ``continual run`` cannot register it as a classifier by mistake."""

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        raise ConfigError(
            "the neuromorphic learner is registered by `neuroplast neuro train` (its "
            "prototypes and spiking memory are no torch classifier); use `continual compare` "
            "to measure it beside other strategies"
        )


def run_neuromorphic(stream: Stream, config: Any, *, seed: int = 0, on_task: OnTask = None) -> Any:
    """``continual compare ... --strategies neuromorphic``: the learner of
    :func:`default_config` on ``stream`` as a :class:`~neuroplast.continual.runner.RunResult`
    (its memory bytes: prototypes, recurrent weights and calibration pairs)."""
    from neuroplast.continual.runner import RunResult

    cfg = default_config(stream, config.stream, seed)
    concepts = _ENCODED.get(id(stream))
    if concepts is None or concepts[0] is not stream:
        probe = NeuromorphicLearner(cfg, class_names=stream.label_names, seed=seed)
        started = time.perf_counter()
        encoded = encode_tasks(probe, raw_tasks(stream, cfg.stream))
        concepts = (stream, encoded, time.perf_counter() - started)
        logger.info("encoded %s in %.1f s", stream.name, concepts[2])
        _ENCODED.clear()  # one stream at a time: the seeds of one comparison share it
        _ENCODED[id(stream)] = concepts
    run = run_learner(stream, cfg, seed=seed, concepts=concepts[1], on_task=on_task)
    return RunResult(
        "neuromorphic",
        seed,
        run.metrics,
        run.train_seconds + concepts[2],  # the encoder pass (train and test rows) counted
        run.learner.memory_bytes(),
        _NotABundle(),
        [],
    )
