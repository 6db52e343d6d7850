"""A continual strategy is a plugin: a training :class:`Callback` with task hooks.

The learner fires ``before_task`` / ``train_data`` / ``after_task`` around each task; the
training loop fires the callback hooks (``on_loss``, ``on_after_backward``...) inside it.
Plugins compose: every plugin sees the loss the previous one returned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

from neuroplast.training import Callback

if TYPE_CHECKING:
    from neuroplast.continual.learner import ContinualLearner
    from neuroplast.continual.streams import Task

__all__ = ["Plugin"]


class Plugin(Callback):
    """Base class: every hook is a no-op (that is the ``naive`` strategy)."""

    name = "naive"

    def before_task(self, learner: ContinualLearner, task: Task) -> None:
        """Before training on ``task`` starts."""

    def train_data(
        self, learner: ContinualLearner, index: int, x: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The rows to train on for task ``index`` (``joint`` adds earlier tasks' rows)."""
        return x, y

    def after_task(self, learner: ContinualLearner, task: Task) -> None:
        """After training on ``task`` (Fisher information, buffers, importances)."""

    def classify(self, learner: ContinualLearner, x: Tensor, mask: Tensor | None) -> Tensor | None:
        """Predicted outputs for ``x``, or None to use the model's masked argmax."""
        return None

    def without_stored_state(self, learner: ContinualLearner, task: Task, parent: str) -> None:
        """``continual update`` of a version (``parent``) that stored no state of this
        plugin: rebuild it from the old ``task`` (default: as after training on it), or raise
        a :class:`~neuroplast.errors.ConfigError` when it cannot be rebuilt."""
        self.after_task(learner, task)

    def artifacts(self) -> dict[str, Tensor]:
        """Tensors to store with the registered version (Fisher, buffer...)."""
        return {}

    def load_artifacts(self, tensors: dict[str, Tensor]) -> None:
        """Restore what :meth:`artifacts` returned (``continual update`` reuses them)."""

    def memory_bytes(self) -> int:
        """Bytes this plugin keeps between tasks."""
        return sum(t.numel() * t.element_size() for t in self.artifacts().values())
