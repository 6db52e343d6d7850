"""Knowledge distillation: a student learns from the teacher's soft labels on the one loop.

:class:`DistillationLoss` is a Trainer callback: its ``on_loss`` mixes the hard-label
cross-entropy with ``T**2 * KL(softmax(teacher / T) || softmax(student / T))``. The
teacher stays in eval mode without gradients and sees exactly the batch the student saw
(same tokens / normalised pixels, same order), so its labels line up with the student's.
The default temperature and alpha, and their check, are the ``distill`` technique's options
(:mod:`neuroplast.compression.techniques.distill`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from neuroplast.compression.techniques.distill import (
    DEFAULT_ALPHA,
    DEFAULT_TEMPERATURE,
    check_distillation_settings,
)
from neuroplast.errors import ConfigError
from neuroplast.models import logits_of
from neuroplast.training.callbacks import Callback

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_TEMPERATURE",
    "DistillationLoss",
    "check_distillation_settings",
    "distillation_loss",
]


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    hard_loss: Tensor,
    *,
    temperature: float,
    alpha: float,
) -> Tensor:
    """``alpha * T**2 * KL(p_teacher || p_student) + (1 - alpha) * hard_loss``, with both
    distributions softened by ``T`` and the KL averaged over the batch."""
    t = temperature
    soft = F.kl_div(
        F.log_softmax(student_logits.float() / t, dim=1),
        F.log_softmax(teacher_logits.float() / t, dim=1),
        reduction="batchmean",
        log_target=True,
    ) * (t * t)
    return alpha * soft + (1.0 - alpha) * hard_loss


class DistillationLoss(Callback):
    """``loss = alpha * distillation + (1 - alpha) * cross_entropy`` for ``student``."""

    def __init__(
        self,
        student: nn.Module,
        teacher: nn.Module,
        *,
        temperature: float = DEFAULT_TEMPERATURE,
        alpha: float = DEFAULT_ALPHA,
    ) -> None:
        check_distillation_settings(temperature, alpha)
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
        student = self._logits
        self._logits = None
        self.teacher.to(inputs.device).eval()
        with torch.no_grad():
            teacher = logits_of(self.teacher(inputs))
        if teacher.shape != student.shape:
            raise ConfigError(
                f"teacher logits {tuple(teacher.shape)} and student logits "
                f"{tuple(student.shape)} differ: the student needs the teacher's classes"
            )
        return distillation_loss(
            student, teacher, loss, temperature=self.temperature, alpha=self.alpha
        )
