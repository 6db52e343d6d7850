"""The baselines: ``naive`` fine-tuning (the lower bound), ``cumulative`` training on every
task seen so far, task after task, and ``joint`` training once on all tasks together (the
upper bounds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from neuroplast.continual.strategies._registry import register_strategy
from neuroplast.continual.strategies.base import Plugin

if TYPE_CHECKING:
    from neuroplast.continual.learner import ContinualLearner

__all__ = ["Cumulative", "Joint", "Naive"]


@register_strategy("naive", alone=True)
class Naive(Plugin):
    """Fine-tune on each task in turn: nothing protects the old tasks."""


@register_strategy("cumulative", alone=True)
class Cumulative(Plugin):
    """Train on the union of all tasks so far, at each task (an upper bound)."""

    def train_data(
        self, learner: ContinualLearner, index: int, x: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        tasks = learner.stream.tasks[: index + 1]
        return torch.cat([t.x_train for t in tasks]), torch.cat([t.y_train for t in tasks])


@register_strategy("joint", alone=True)
class Joint(Cumulative):
    """Train once on all tasks together, no sequence (the offline upper bound): the runner
    calls ``ContinualLearner.fit_all``, whose data is the union of every task."""
