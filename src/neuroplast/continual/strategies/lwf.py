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
    labels: Tensor | None = None,
    t_squared: bool = True,
) -> Tensor:
    """Mean over rows and output groups of ``T^2 * KL(softmax(old/T) || softmax(new/T))``
    (without the ``T^2``, Hinton's gradient scale, when ``t_squared`` is false), the softmax
    taken inside each group of outputs (a task-IL head, or the old classes).

    With ``active`` (class-IL: every class seen so far, sorted, a superset of the group), the
    student's softmax runs over all of ``active`` and the old model's distribution is padded
    with zeros for the new classes, as van de Ven & Tolias (2019) do: the student is also
    taught that the current inputs are not the new classes in the old model's eyes. On the
    new task's own rows that target contradicts the label (a "2" is not a 2), so with
    ``labels`` each row's own class is left out of the student's softmax when it is not in
    the group: the new classes are still held below the old ones on rows of another class.
    """
    total = new.new_zeros(())
    for group in groups:
        target = F.softmax(old[:, group] / temperature, dim=1)
        if active is None:
            log_pred = F.log_softmax(new[:, group] / temperature, dim=1)
        else:
            scores = new[:, active] / temperature
            if labels is not None:
                own = (active.unsqueeze(0) == labels.unsqueeze(1)) & ~torch.isin(labels, group)[
                    :, None
                ]
                scores = scores.masked_fill(own, float("-inf"))
            log_pred = F.log_softmax(scores, dim=1)[:, torch.searchsorted(active, group)]
        # KL(target || pred) on the support of target; the padded zeros add nothing
        kl = (target * (torch.log(target.clamp_min(1e-12)) - log_pred)).sum(dim=1).mean()
        total = total + (kl * temperature**2 if t_squared else kl)
    return total / max(len(groups), 1)


@register_strategy("lwf", options="lwf")
class LwF(Plugin):
    """Adds ``alpha * distillation`` to ``(1 - alpha) * loss``; alpha defaults to
    ``1 - 1/t`` on task ``t`` (the old tasks' share, as van de Ven & Tolias weigh it). The
    distillation is the KL divergence at temperature T without Hinton's ``T^2`` factor (as
    in Li & Hoiem's loss): it is computed on the new task's own rows, where in domain-IL
    (and class-IL ``all_seen``) it competes with the labels for the same outputs, and with
    ``T^2`` it outweighed them (T = 2) from task 2 on: domain-IL Split MNIST learned tasks
    2-5 to 61 / 57 / 75 / 60 % at 35 steps a task, 88 / 87 / 98 / 92 % without it
    (``t_squared=True`` restores it).

    ``softmax`` (class-IL): ``"all_seen"`` distils against the student's softmax over every
    class seen so far with the old model's distribution padded with zeros (van de Ven &
    Tolias's form); on the new task's own rows that target says "not a new class" against
    the label, and at 1 - 1/t it wins: the model learned none of tasks 2-5 of Split MNIST
    (R diagonal 99 / 0 / 0 / 0 / 0 at 500 steps a task). ``"all_but_label"`` (the default
    alone) leaves each row's own class out of that softmax, so the target no longer
    contradicts the label while the other new classes are still held below the old ones;
    ``"old_only"`` distils inside the old classes only (Li & Hoiem's heads). ``"auto"``
    takes ``all_but_label`` alone and ``old_only`` beside a replay buffer, whose old rows
    already hold the new classes back (a Fashion-MNIST update from 8 to 10 classes with
    replay+lwf and ``all_seen`` learned 0 % of the new classes).
    """

    def __init__(
        self,
        *,
        temperature: float = 2.0,
        alpha: float | None = None,
        softmax: Literal["auto", "all_seen", "all_but_label", "old_only"] = "auto",
        t_squared: bool = False,
    ) -> None:
        self.temperature = temperature
        self.t_squared = t_squared
        self.alpha = alpha
        self.softmax = softmax
        self.teacher: nn.Module | None = None
        self.groups: list[Tensor] = []
        self.active: Tensor | None = None
        self.mode: str = softmax
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
            self.mode = self._softmax_mode(learner)
            self.active = None
            if self.mode != "old_only":
                seen = stream.tasks[: task.index + 1]
                self.active = torch.tensor(sorted(c for t in seen for c in t.classes))
        else:
            self.groups = [torch.arange(stream.num_outputs)]

    def _softmax_mode(self, learner: ContinualLearner) -> str:
        if self.softmax != "auto":
            return self.softmax
        from neuroplast.continual.strategies.replay import Replay

        beside_replay = any(isinstance(p, Replay) for p in learner.plugins)
        return "old_only" if beside_replay else "all_but_label"

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
        labels = targets if self.mode == "all_but_label" else None
        kd = distillation_loss(
            new,
            old,
            self.groups,
            self.temperature,
            active=self.active,
            labels=labels,
            t_squared=self.t_squared,
        )
        return (1.0 - alpha) * loss + alpha * kd
