"""The learner: one model trained task after task by the one :class:`Trainer`, with the
scenario's output masks and the strategy plugins as callbacks."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from neuroplast.config import TrainConfig
from neuroplast.continual._protocol import OptimizerCarry, StepCounter, batches, step_batches
from neuroplast.continual.config import ContinualTrainConfig
from neuroplast.continual.heads import TaskHeads, drop_idle_head_grads
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


class _IdleHeads(Callback):
    """Multi-head task-IL: the heads of tasks absent from a step get no gradient."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def on_after_backward(self, trainer: Trainer) -> None:
        drop_idle_head_grads(self.model)


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
        if not isinstance(train, ContinualTrainConfig):
            train = ContinualTrainConfig.model_validate(train.model_dump())
        self.train_config: ContinualTrainConfig = train.model_copy(
            update={"early_stopping": train.early_stopping.model_copy(update={"enabled": False})}
        )
        self.plugins = list(plugins)
        self.fabric = fabric
        self.seed = seed
        self.current_task = 0
        self.history: list[list[ModelMetrics]] = []
        #: optimizer steps of each fit (one entry per task; one for a joint fit)
        self.steps: list[int] = []
        self._carry = None if self.train_config.reset_optimizer else OptimizerCarry()
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
        return self._fit(index, budget_tasks=1)

    def fit_all(self) -> list[ModelMetrics]:
        """Train once on every task together (``joint``: its plugin's ``train_data`` gives
        the union); it counts as the last task, with the step budget of all tasks."""
        return self._fit(len(self.stream.tasks) - 1, budget_tasks=len(self.stream.tasks))

    def loader(self, x: Tensor, y: Tensor, seed: int, budget_tasks: int = 1) -> DataLoader[Any]:
        """The batches of one fit: ``train.epochs`` passes over ``(x, y)``, or exactly
        ``train.steps_per_task`` optimizer steps per task."""
        cfg = self.train_config
        if cfg.steps_per_task is None:
            return batches(x, y, cfg.batch_size, seed)
        count = cfg.steps_per_task * budget_tasks * cfg.accumulate_grad_batches
        return step_batches(x, y, cfg.batch_size, count, seed)

    def _fit(self, index: int, budget_tasks: int) -> list[ModelMetrics]:
        self.current_task = index
        task = self.stream.tasks[index]
        for plugin in self.plugins:
            plugin.before_task(self, task)
        x, y = task.x_train, task.y_train
        for plugin in self.plugins:
            x, y = plugin.train_data(self, index, x, y)
        update: dict[str, Any] = {"seed": self.seed * 1000 + index}
        if self.train_config.steps_per_task is not None:
            update["epochs"] = 1  # one pass over the step budget
        config = self.train_config.model_copy(update=update)
        counter = StepCounter()
        callbacks: list[Callback] = [_ScenarioMask(self), counter]
        if self._carry is not None:
            callbacks.append(self._carry)
        callbacks.extend(self.plugins)
        if isinstance(getattr(self.inner, "classifier", None), TaskHeads):
            callbacks.append(_IdleHeads(self.inner))  # after the plugins read the gradients
        trainer = Trainer(config, callbacks=callbacks, fabric=self.fabric)
        self.fabric = trainer.fabric
        history = trainer.fit(self.model, self.loader(x, y, config.seed, budget_tasks))
        self.model.last_logits = None
        for plugin in self.plugins:
            plugin.after_task(self, task)
        self.history.append(history)
        self.steps.append(counter.steps)
        logger.info(
            "task %d done: %d steps, train loss %.4f",
            index + 1,
            counter.steps,
            history[-1].train_loss,
        )
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
