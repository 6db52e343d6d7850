"""The learner: one model trained task after task by the one :class:`Trainer`, with the
scenario's output masks and the strategy plugins as callbacks."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

from neuroplast.config import TrainConfig
from neuroplast.continual.streams import Stream
from neuroplast.models import logits_of
from neuroplast.training import Callback, Trainer
from neuroplast.types import ModelMetrics

if TYPE_CHECKING:
    from lightning_fabric import Fabric

    from neuroplast.continual.strategies.base import Plugin

__all__ = ["ContinualLearner", "MaskedModel", "apply_mask", "batches"]

logger = logging.getLogger(__name__)
MASKED = -1e9  # a logit no softmax picks, and finite so that 0 * logit stays 0


def apply_mask(logits: Tensor, mask: Tensor | None) -> Tensor:
    """``logits`` with the outputs outside ``mask`` ([K] or [B, K] booleans) pushed to -1e9."""
    if mask is None:
        return logits
    return logits.masked_fill(~mask.to(logits.device), MASKED)


class MaskedModel(nn.Module):
    """Wraps a classifier; ``mask`` restricts which outputs compete (task-IL heads, the
    classes seen so far in class-IL). ``last_logits`` keeps the unmasked logits of the
    latest forward pass so that plugins (LwF) need no second forward."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.mask: Tensor | None = None
        self.last_logits: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        logits = logits_of(self.inner(x))
        self.last_logits = logits
        return apply_mask(logits, self.mask)


class _ScenarioMask(Callback):
    """Sets the output mask of each training batch: task-IL masks every row to its own
    task's classes (found from its label), class-IL to the classes seen so far."""

    def __init__(self, learner: ContinualLearner) -> None:
        self.learner = learner

    def on_fit_start(self, trainer: Trainer) -> None:
        learner = self.learner
        if learner.stream.scenario != "task":
            learner.model.mask = learner.stream.output_mask(learner.current_task)

    def on_train_batch_start(self, trainer: Trainer, inputs: Tensor, targets: Tensor) -> None:
        if self.learner.stream.scenario == "task":
            self.learner.model.mask = self.learner.row_masks(targets)

    def on_fit_end(self, trainer: Trainer, history: list[ModelMetrics]) -> None:
        self.learner.model.mask = None


def batches(x: Tensor, y: Tensor, batch_size: int, seed: int) -> DataLoader[Any]:
    """Shuffled mini-batches of whole tensors (one indexing per batch, no collation)."""
    dataset = TensorDataset(x, y)
    generator = torch.Generator().manual_seed(seed)
    sampler = BatchSampler(RandomSampler(dataset, generator=generator), batch_size, False)
    return DataLoader(dataset, sampler=sampler, batch_size=None, num_workers=0)


class ContinualLearner:
    """Trains ``model`` on the tasks of ``stream`` in order with ``plugins``."""

    def __init__(
        self,
        model: nn.Module,
        stream: Stream,
        train: TrainConfig,
        plugins: Sequence[Plugin] = (),
        *,
        fabric: Fabric | None = None,
        seed: int = 0,
    ) -> None:
        self.model = MaskedModel(model)
        self.stream = stream
        self.train_config = train.model_copy(
            update={"early_stopping": train.early_stopping.model_copy(update={"enabled": False})}
        )
        self.plugins = list(plugins)
        self.fabric = fabric
        self.seed = seed
        self.current_task = 0
        self.history: list[list[ModelMetrics]] = []
        owner = stream.task_of_class() if stream.scenario == "task" else None
        self._task_of_class = owner
        self._task_masks = torch.stack(
            [stream.output_mask(t.index) for t in stream.tasks]
        )  # [T, K]

    @property
    def inner(self) -> nn.Module:
        return self.model.inner

    # ---- masks ----------------------------------------------------------------------------
    def row_masks(self, targets: Tensor) -> Tensor:
        """Task-IL: [B, K] masks, each row its own task's classes (from its label)."""
        if self._task_of_class is None:
            raise RuntimeError("row masks exist only in task-IL")
        return self._task_masks[self._task_of_class[targets.cpu()]]

    def train_mask(self, targets: Tensor) -> Tensor | None:
        """The mask a training row competes under in this scenario."""
        if self.stream.scenario == "task":
            return self.row_masks(targets)
        return self.stream.output_mask(self.current_task)

    # ---- training -------------------------------------------------------------------------
    def fit_task(self, index: int) -> list[ModelMetrics]:
        """Train on task ``index`` (the plugins may add data, terms and state)."""
        self.current_task = index
        task = self.stream.tasks[index]
        for plugin in self.plugins:
            plugin.before_task(self, task)
        x, y = task.x_train, task.y_train
        for plugin in self.plugins:
            x, y = plugin.train_data(self, index, x, y)
        config = self.train_config.model_copy(update={"seed": self.seed * 1000 + index})
        loader = batches(x, y, config.batch_size, config.seed)
        trainer = Trainer(
            config, callbacks=[_ScenarioMask(self), *self.plugins], fabric=self.fabric
        )
        self.fabric = trainer.fabric
        history = trainer.fit(self.model, loader)
        self.model.last_logits = None
        for plugin in self.plugins:
            plugin.after_task(self, task)
        self.history.append(history)
        logger.info("task %d done: train loss %.4f", index + 1, history[-1].train_loss)
        return history

    # ---- evaluation -----------------------------------------------------------------------
    @torch.inference_mode()
    def predict(self, x: Tensor, mask: Tensor | None, batch_size: int = 1000) -> Tensor:
        """Predicted outputs (argmax of the masked logits, or a plugin's classifier)."""
        was_training = self.model.training
        self.model.eval()
        out = []
        for start in range(0, len(x), batch_size):
            chunk = x[start : start + batch_size]
            pred = None
            for plugin in self.plugins:
                pred = plugin.classify(self, chunk, mask)
                if pred is not None:
                    break
            if pred is None:
                pred = apply_mask(logits_of(self.inner(chunk)), mask).argmax(dim=1)
            out.append(pred)
        self.model.train(was_training)
        self.model.last_logits = None
        return torch.cat(out) if out else torch.empty(0, dtype=torch.long)

    def accuracy(self, task: int, *, through: int | None = None) -> float:
        """Test accuracy on task ``task`` (class-IL: among the classes of tasks up to
        ``max(task, through)``)."""
        t = self.stream.tasks[task]
        mask = self.stream.output_mask(task, through=through)
        pred = self.predict(t.x_test, mask)
        return float((pred == t.y_test).float().mean())

    def accuracies(self, through: int) -> list[float]:
        """Accuracy on every task of the stream after training through task ``through``."""
        return [self.accuracy(j, through=through) for j in range(len(self.stream.tasks))]
