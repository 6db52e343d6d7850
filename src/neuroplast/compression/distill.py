"""Knowledge distillation: a student learns from the teacher's soft labels on the one loop.

:class:`DistillationLoss` is a Trainer callback: its ``on_loss`` mixes the hard-label
cross-entropy with ``T**2 * KL(softmax(teacher / T) || softmax(student / T))``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from neuroplast.errors import ConfigError
from neuroplast.models import logits_of
from neuroplast.training.callbacks import Callback

__all__ = ["DistillationLoss"]


class DistillationLoss(Callback):
    """``loss = alpha * distillation + (1 - alpha) * cross_entropy`` for ``student``."""

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module,
        *,
        temperature: float = 4.0,
        alpha: float = 0.7,
    ) -> None:
        if temperature <= 0:
            raise ConfigError(f"distillation temperature must be > 0, got {temperature}")
        if not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"distillation alpha must be in [0, 1], got {alpha}")
        self.student = student
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.temperature = temperature
        self.alpha = alpha
        self._logits: Tensor | None = None
        self._handle: RemovableHandle | None = None

    def _capture(self, module: nn.Module, args: object, output: object) -> None:
        self._logits = logits_of(output)

    def on_fit_start(self, trainer: object) -> None:
        self._handle = self.student.register_forward_hook(self._capture)

    def on_fit_end(self, trainer: object, history: object) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def on_loss(self, trainer: object, loss: Tensor, inputs: Tensor, targets: Tensor) -> Tensor:
        if self._logits is None:
            raise ConfigError("distillation saw no student output; is the student being trained?")
        with torch.no_grad():
            teacher = logits_of(self.teacher(inputs)).float()
        t = self.temperature
        soft = F.kl_div(
            F.log_softmax(self._logits.float() / t, dim=1),
            F.softmax(teacher / t, dim=1),
            reduction="batchmean",
        ) * (t * t)
        self._logits = None
        return self.alpha * soft + (1.0 - self.alpha) * loss
