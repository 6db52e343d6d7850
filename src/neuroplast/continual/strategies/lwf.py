"""Learning without Forgetting (Li & Hoiem, 2016): distil the previous model's outputs on the
current inputs into the new model, so that old tasks' answers change as little as possible."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroplast.continual.strategies._registry import register_strategy
from neuroplast.continual.strategies.base import Plugin
from neuroplast.models import logits_of

if TYPE_CHECKING:
    from neuroplast.continual.learner import ContinualLearner
    from neuroplast.continual.streams import Task
    from neuroplast.training import Trainer

__all__ = ["LwF", "distillation_loss"]


def distillation_loss(
    new: Tensor,
    old: Tensor,
    groups: list[Tensor],
    temperature: float,
    *,
    active: Tensor | None = None,
) -> Tensor:
    """Mean over rows and output groups of ``T^2 * KL(softmax(old/T) || softmax(new/T))``,
    the softmax taken inside each group of outputs (a task-IL head, or the old classes).

    With ``active`` (class-IL: every class seen so far, sorted, a superset of the group), the
    student's softmax runs over all of ``active`` and the old model's distribution is padded
    with zeros for the new classes, as van de Ven & Tolias (2019) do: the student is then also
    taught that the current inputs are not the new classes in the old model's eyes, which
    is what counters class-IL's drift towards the newest classes. A softmax inside the old
    classes only leaves that competition untouched.
    """
    total = new.new_zeros(())
    for group in groups:
        target = F.softmax(old[:, group] / temperature, dim=1)
        if active is None:
            log_pred = F.log_softmax(new[:, group] / temperature, dim=1)
        else:
            log_all = F.log_softmax(new[:, active] / temperature, dim=1)
            log_pred = log_all[:, torch.searchsorted(active, group)]
        # KL(target || pred) on the support of target; the padded zeros add nothing
        kl = (target * (torch.log(target.clamp_min(1e-12)) - log_pred)).sum(dim=1).mean()
        total = total + kl * temperature**2
    return total / max(len(groups), 1)


@register_strategy("lwf", options="lwf")
class LwF(Plugin):
    """Adds ``alpha * distillation`` to ``(1 - alpha) * loss``; alpha defaults to
    ``1 - 1/t`` on task ``t`` (the old tasks' share, as van de Ven & Tolias weigh it).

    ``softmax`` (class-IL): ``"all_seen"`` distils against the student's softmax over every
    class seen so far (the paper's form, which also holds the new classes back on the new
    inputs), ``"old_only"`` inside the old classes. ``"auto"`` takes ``all_seen`` alone and
    ``old_only`` beside a replay buffer, whose old rows already hold the new classes back:
    there ``all_seen`` starves them (a Fashion-MNIST update from 8 to 10 classes with
    replay+lwf learned 0 % of the new classes).
    """

    def __init__(
        self,
        *,
        temperature: float = 2.0,
        alpha: float | None = None,
        softmax: Literal["auto", "all_seen", "old_only"] = "auto",
    ) -> None:
        self.temperature = temperature
        self.alpha = alpha
        self.softmax = softmax
        self.teacher: nn.Module | None = None
        self.groups: list[Tensor] = []
        self.active: Tensor | None = None
        self._learner: ContinualLearner | None = None

    def before_task(self, learner: ContinualLearner, task: Task) -> None:
        self._learner = learner
        stream = learner.stream
        if task.index == 0 and self.teacher is None:
            return
        self.teacher = copy.deepcopy(learner.inner).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        old = stream.tasks[: task.index]
        if stream.scenario == "task":
            self.groups = [torch.tensor(t.classes) for t in old]
        elif stream.scenario == "class":
            self.groups = [torch.tensor(sorted(c for t in old for c in t.classes))]
            if self._softmax_mode(learner) == "all_seen":
                seen = stream.tasks[: task.index + 1]
                self.active = torch.tensor(sorted(c for t in seen for c in t.classes))
        else:
            self.groups = [torch.arange(stream.num_outputs)]

    def _softmax_mode(self, learner: ContinualLearner) -> str:
        if self.softmax != "auto":
            return self.softmax
        from neuroplast.continual.strategies.replay import Replay

        beside_replay = any(isinstance(p, Replay) for p in learner.plugins)
        return "old_only" if beside_replay else "all_seen"

    def on_loss(self, trainer: Trainer, loss: Tensor, inputs: Tensor, targets: Tensor) -> Tensor:
        learner = self._learner
        if self.teacher is None or learner is None or not self.groups:
            return loss
        new = learner.model.last_logits
        if new is None:
            return loss
        with torch.no_grad():
            old = logits_of(self.teacher(inputs))
        t = learner.current_task + 1
        alpha = self.alpha if self.alpha is not None else 1.0 - 1.0 / t
        kd = distillation_loss(new, old, self.groups, self.temperature, active=self.active)
        return (1.0 - alpha) * loss + alpha * kd
