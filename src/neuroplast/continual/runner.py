"""Run a strategy (one or more composed plugins) over a stream: train task by task, fill
the accuracy matrix after each task, and compute the metrics."""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from neuroplast.continual.config import ContinualConfig
from neuroplast.continual.heads import add_task_heads
from neuroplast.continual.learner import ContinualLearner
from neuroplast.continual.metrics import ContinualMetrics, compute_metrics
from neuroplast.continual.sources import make_stream
from neuroplast.continual.strategies import Joint, Plugin, create_plugins
from neuroplast.continual.streams import Stream
from neuroplast.errors import ConfigError
from neuroplast.models import create_model, get_spec

__all__ = ["RunResult", "StrategySummary", "build_model", "run_strategy", "summarise"]

logger = logging.getLogger(__name__)
OnTask = Callable[[int, list[float]], None] | None


@dataclass
class RunResult:
    """One strategy on one stream with one seed."""

    strategy: str
    seed: int
    metrics: ContinualMetrics
    train_seconds: float
    memory_bytes: int
    model: nn.Module
    plugins: list[Plugin]
    arch_config: dict[str, Any] = field(default_factory=dict)


@dataclass
class StrategySummary:
    """Mean and standard deviation over seeds of one strategy's metrics."""

    strategy: str
    runs: list[RunResult]

    def _values(self, key: str) -> list[float]:
        values = [getattr(r.metrics, key) for r in self.runs]
        return [float(v) for v in values if v is not None]

    def mean(self, key: str) -> float | None:
        values = self._values(key)
        return statistics.fmean(values) if values else None

    def std(self, key: str) -> float | None:
        values = self._values(key)
        return statistics.stdev(values) if len(values) > 1 else None

    @property
    def seconds(self) -> float:
        return statistics.fmean(r.train_seconds for r in self.runs)

    @property
    def memory_bytes(self) -> int:
        return max(r.memory_bytes for r in self.runs)

    def mean_matrix(self) -> list[list[float]]:
        stacked = torch.tensor([r.metrics.matrix for r in self.runs], dtype=torch.float64)
        return stacked.mean(0).tolist()


def build_model(
    stream: Stream, model_config: dict[str, Any], seed: int
) -> tuple[nn.Module, dict[str, Any]]:
    """A fresh model for the stream (its inputs and outputs decide the derived keys)."""
    options = dict(model_config)
    architecture = str(options.pop("architecture"))
    spec = get_spec(architecture)
    if spec.modality != stream.modality:
        raise ConfigError(
            f"model.architecture={architecture} takes {spec.modality} inputs but the stream "
            f"{stream.name} holds {stream.modality}s; pick a {stream.modality} architecture"
        )
    derived: dict[str, Any] = {"num_classes": stream.num_outputs}
    if stream.modality == "image":
        c, h, _ = stream.input_shape
        derived.update(in_channels=c, image_size=h)
    elif stream.vocab is not None:
        derived["vocab_size"] = len(stream.vocab)
    arch_config = {**options, **derived}
    torch.manual_seed(seed)
    model = create_model(architecture, arch_config)
    if stream.heads == "multi":
        model = add_task_heads(model, [t.classes for t in stream.tasks])
    return model, arch_config


def run_strategy(
    stream: Stream,
    config: ContinualConfig,
    strategies: Sequence[str],
    *,
    seed: int = 0,
    on_task: OnTask = None,
) -> RunResult:
    """Train a fresh model on every task of ``stream`` with ``strategies`` composed."""
    if list(strategies) == ["neuromorphic"]:  # issue 18: its own learner, not a loop plugin
        from neuroplast.continual.neuromorphic.stream_run import run_neuromorphic

        return run_neuromorphic(stream, config, seed=seed, on_task=on_task)
    model, arch_config = build_model(stream, config.model, seed)
    plugins = create_plugins(strategies, config.options, seed=seed)
    learner = ContinualLearner(model, stream, config.train, plugins, seed=seed)
    tasks = len(stream.tasks)
    random_init = [learner.accuracy(j, through=j) for j in range(tasks)]
    joint = any(isinstance(p, Joint) for p in plugins)
    matrix, seconds = (_joint if joint else _sequence)(learner, on_task)
    metrics = (_joint_metrics if joint else compute_metrics)(matrix, random_init)
    memory = sum(p.memory_bytes() for p in plugins)
    name = "+".join(strategies)
    logger.info("%s seed %d: ACC %.4f in %.1f s", name, seed, metrics.acc, seconds)
    return RunResult(name, seed, metrics, seconds, memory, model, plugins, arch_config)


def _sequence(learner: ContinualLearner, on_task: OnTask) -> tuple[list[list[float]], float]:
    """Task after task: R's row ``i`` after training on task ``i``; the training seconds."""
    matrix: list[list[float]] = []
    seconds = 0.0
    for i in range(len(learner.stream.tasks)):
        started = time.perf_counter()
        learner.fit_task(i)
        seconds += time.perf_counter() - started
        matrix.append(learner.accuracies(through=i))
        if on_task is not None:
            on_task(i, matrix[-1])
    return matrix, seconds


def _joint(learner: ContinualLearner, on_task: OnTask) -> tuple[list[list[float]], float]:
    """``joint``: one fit on every task at once. There is no sequence, so every row of R
    holds the final accuracies."""
    started = time.perf_counter()
    learner.fit_all()
    seconds = time.perf_counter() - started
    last = len(learner.stream.tasks) - 1
    final = learner.accuracies(through=last)
    if on_task is not None:
        on_task(last, final)
    return [list(final) for _ in learner.stream.tasks], seconds


def _joint_metrics(matrix: list[list[float]], random_init: list[float]) -> ContinualMetrics:
    """ACC of the joint fit; BWT, FWT and forgetting need a sequence of tasks: None."""
    full = compute_metrics(matrix, random_init)
    return ContinualMetrics(full.acc, None, None, None, full.matrix, full.random_init)


def summarise(
    config: ContinualConfig,
    strategy_sets: Sequence[Sequence[str]],
    *,
    stream: Stream | None = None,
    on_run: Callable[[RunResult], None] | None = None,
) -> tuple[Stream, list[StrategySummary]]:
    """Every strategy (set) over every seed of ``config``; seeds interleaved per strategy."""
    stream = stream or make_stream(config.stream)
    summaries = []
    for names in strategy_sets:
        runs = []
        for seed in config.seeds:
            result = run_strategy(stream, config, names, seed=seed)
            runs.append(result)
            if on_run is not None:
                on_run(result)
        summaries.append(StrategySummary("+".join(names), runs))
    return stream, summaries
