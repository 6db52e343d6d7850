"""Typed training hooks. The loop fires named events; a callback overrides the ones it needs.

Stateful callbacks implement ``state_dict`` / ``load_state_dict`` (JSON-serialisable) so a
resumed run restores them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from torch import Tensor

from neuroplast.errors import ConfigError
from neuroplast.types import ModelMetrics

if TYPE_CHECKING:
    from neuroplast.training.trainer import Trainer

__all__ = ["Callback", "EarlyStopping", "MetricsRecorder"]


class Callback:
    """Base class: every hook is a no-op."""

    def on_fit_start(self, trainer: Trainer) -> None:
        """Before the first epoch (also after a resume)."""

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        """Before epoch ``epoch`` (1-based) starts."""

    def on_train_batch_start(self, trainer: Trainer, inputs: Tensor, targets: Tensor) -> None:
        """Before the forward pass of a training batch (a continual plugin sets masks here)."""

    def on_loss(self, trainer: Trainer, loss: Tensor, inputs: Tensor, targets: Tensor) -> Tensor:
        """Return the loss to back-propagate (a regulariser adds to it here)."""
        return loss

    def on_after_backward(self, trainer: Trainer) -> None:
        """After gradients were accumulated, before clipping and the optimizer step."""

    def on_epoch_end(self, trainer: Trainer, metrics: ModelMetrics) -> None:
        """After validation of an epoch; ``trainer.should_stop = True`` ends the fit."""

    def on_fit_end(self, trainer: Trainer, history: list[ModelMetrics]) -> None:
        """After the last epoch."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(
        self,
        *,
        monitor: str = "val_loss",
        mode: str = "min",
        patience: int = 3,
        min_delta: float = 0,
    ) -> None:
        if mode not in ("min", "max"):
            raise ConfigError(f"early_stopping.mode must be 'min' or 'max', not {mode!r}")
        self.monitor, self.mode, self.patience, self.min_delta = monitor, mode, patience, min_delta
        self.best: float = math.inf if mode == "min" else -math.inf
        self.best_epoch = 0
        self.wait = 0

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer: Trainer, metrics: ModelMetrics) -> None:
        value = metrics.get(self.monitor)
        if value is None:
            available = [k for k, v in metrics.to_dict().items() if isinstance(v, float)]
            available += list(metrics.extra)
            raise ConfigError(
                f"early_stopping.monitor={self.monitor!r} is not a metric of this run; "
                f"available: {', '.join(sorted(set(available)))}"
            )
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, metrics.epoch, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                trainer.should_stop = True

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])


class MetricsRecorder(Callback):
    """Forwards each epoch's metrics to a function (the registry, a progress bar...)."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def on_epoch_end(self, trainer: Trainer, metrics: ModelMetrics) -> None:
        self.sink(metrics)
