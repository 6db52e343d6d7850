"""Continual-learning metrics from the accuracy matrix R.

``R[i, j]`` is the test accuracy on task ``j`` after training through task ``i`` (0-based
here). With ``T`` tasks and ``b[j]`` the accuracy of the randomly initialised model on task
``j`` (Lopez-Paz & Ranzato, 2017, GEM):

* ACC = mean_j R[T-1, j]
* BWT = mean_{j < T-1} (R[T-1, j] - R[j, j])
* FWT = mean_{j > 0} (R[j-1, j] - b[j])
* forgetting = mean_{j < T-1} (max_{l < T-1} R[l, j] - R[T-1, j])   (Chaudhry et al., 2018)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from neuroplast.errors import DataError

if TYPE_CHECKING:
    from neuroplast.continual.streams import Stream

__all__ = ["ContinualMetrics", "chance_levels", "compute_metrics", "unlearned_tasks"]


@dataclass(frozen=True)
class ContinualMetrics:
    acc: float
    bwt: float | None
    fwt: float | None
    forgetting: float | None
    matrix: list[list[float]]
    random_init: list[float] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "acc": self.acc,
            "bwt": self.bwt,
            "fwt": self.fwt,
            "forgetting": self.forgetting,
            "matrix": self.matrix,
            "random_init": self.random_init,
        }


def compute_metrics(matrix: Any, random_init: Any = None) -> ContinualMetrics:
    """ACC, BWT, FWT and average forgetting of a square accuracy matrix (values 0..1)."""
    r = np.asarray(matrix, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] != r.shape[1] or r.shape[0] == 0:
        raise DataError(f"the accuracy matrix must be square T x T, got shape {r.shape}")
    if np.isnan(r).any() or (r < 0).any() or (r > 1).any():
        raise DataError("accuracies in the matrix must be between 0 and 1")
    t = r.shape[0]
    acc = float(r[-1].mean())
    bwt = forgetting = fwt = None
    if t > 1:
        bwt = float(np.mean([r[-1, j] - r[j, j] for j in range(t - 1)]))
        forgetting = float(np.mean([r[: t - 1, j].max() - r[-1, j] for j in range(t - 1)]))
    b = None
    if random_init is not None:
        b = np.asarray(random_init, dtype=np.float64)
        if b.shape != (t,):
            raise DataError(f"random_init needs one accuracy per task ({t}), got {b.shape}")
        if t > 1:
            fwt = float(np.mean([r[j - 1, j] - b[j] for j in range(1, t)]))
    return ContinualMetrics(
        acc=acc,
        bwt=bwt,
        fwt=fwt,
        forgetting=forgetting,
        matrix=r.tolist(),
        random_init=None if b is None else b.tolist(),
    )


def chance_levels(stream: Stream) -> list[float]:
    """The accuracy of a guess on each task's test rows right after it is learned (R[t][t]):
    one over its own classes (task-IL), over every class seen so far (class-IL), or over the
    shared outputs (domain-IL)."""
    tasks = stream.tasks
    if stream.scenario == "task":
        return [1.0 / len(set(t.classes)) for t in tasks]
    if stream.scenario == "class":
        return [
            1.0 / len({c for t in tasks[: i + 1] for c in t.classes}) for i in range(len(tasks))
        ]
    return [1.0 / stream.num_outputs for _ in tasks]


def unlearned_tasks(matrix: Any, stream: Stream, *, share: float = 0.5) -> list[int]:
    """The tasks (1-based) a run did not learn: those whose accuracy right after training on
    them, ``R[t][t]``, stays below ``chance + share * (1 - chance)`` (with the default share,
    75 % for two classes, 55 % for the fifth class-IL task of Split MNIST). A strategy that
    protects old tasks by refusing new ones (class-IL LwF before issue 17) fails it."""
    r = np.asarray(matrix, dtype=np.float64)
    chance = chance_levels(stream)
    return [t + 1 for t in range(r.shape[0]) if r[t, t] < chance[t] + share * (1.0 - chance[t])]
