"""Parameter regularisation: EWC (Kirkpatrick et al., 2017), online EWC (Schwarz et al.,
2018) and Synaptic Intelligence (Zenke et al., 2017).

Each keeps, per parameter, an importance ``F`` and an anchor ``theta*`` and adds
``lambda / 2 * sum F (theta - theta*)^2`` (SI: ``c * sum Omega (theta - theta*)^2``) to the
loss of later tasks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor, nn

from neuroplast.continual.strategies._fisher import fisher_information, normalise_fisher
from neuroplast.continual.strategies._registry import register_strategy
from neuroplast.continual.strategies.base import Plugin
from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.continual.learner import ContinualLearner
    from neuroplast.continual.streams import Task
    from neuroplast.training import Trainer

__all__ = ["EWC", "SI", "OnlineEWC", "ewc_penalty", "fisher_information", "normalise_fisher"]


def _params(model: nn.Module) -> dict[str, Tensor]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def ewc_penalty(
    model: nn.Module, fisher: dict[str, Tensor], anchor: dict[str, Tensor], strength: float
) -> Tensor:
    """``strength / 2 * sum_i F_i (theta_i - theta*_i)^2`` over the parameters in ``fisher``."""
    total: Tensor | None = None
    for n, p in _params(model).items():
        if n in fisher:
            term = (fisher[n] * (p - anchor[n]) ** 2).sum()
            total = term if total is None else total + term
    if total is None:
        return torch.zeros(())
    return 0.5 * strength * total


def _merge(
    fishers: list[dict[str, Tensor]], anchors: list[dict[str, Tensor]]
) -> tuple[dict[str, tuple[Tensor, Tensor]], Tensor]:
    """``(A, mu)`` per parameter and the constant ``c`` with
    ``sum_t F_t (x - a_t)^2 = A (x - mu)^2 + c`` (summed over the elements)."""
    merged: dict[str, tuple[Tensor, Tensor]] = {}
    constant = torch.zeros((), dtype=torch.float64)
    for n in fishers[0] if fishers else {}:
        a = torch.stack([f[n].double() for f in fishers]).sum(0)
        b = torch.stack(
            [f[n].double() * t[n].double() for f, t in zip(fishers, anchors, strict=True)]
        ).sum(0)
        sq = torch.stack(
            [f[n].double() * t[n].double() ** 2 for f, t in zip(fishers, anchors, strict=True)]
        ).sum(0)
        mu = torch.where(a > 0, b / a.clamp_min(1e-300), torch.zeros_like(a))
        constant += (sq - a * mu**2).sum()
        dtype = fishers[0][n].dtype
        merged[n] = (a.to(dtype), mu.to(dtype))
    return merged, constant.float()


@register_strategy("ewc", options="ewc")
class EWC(Plugin):
    """Elastic weight consolidation: one Fisher and anchor per finished task
    (``anchor="task"``, Kirkpatrick et al.), or every task's Fisher anchored at the
    parameters after the latest task (``anchor="latest"``, Huszar's 2018 correction: the
    stale anchors of early tasks otherwise pull the parameters, from the first step of a
    new task, towards their Fisher-weighted mean and away from the one point known to suit
    all old tasks).

    ``fisher_norm="sum"`` divides each task's Fisher by its sum over the parameters before
    it is stored: the raw Fisher shrinks as a task is fit ever more confidently (see
    ``_fisher.py``), so the same lambda would act after 35 steps a task and not after 500;
    normalised, lambda weighs the Fisher-weighted mean squared change of the parameters.
    ``"none"`` keeps the raw Fisher of the papers (whose lambdas then reach 1e6-1e9)."""

    def __init__(
        self,
        *,
        lambda_: float = 10000.0,
        fisher_samples: int = 500,
        fisher_labels: Literal["expected", "argmax"] = "expected",
        fisher_norm: Literal["sum", "none"] = "sum",
        anchor: Literal["task", "latest"] = "task",
    ) -> None:
        self.anchor = anchor
        self.strength = lambda_
        self.fisher_samples = fisher_samples
        self.fisher_labels = fisher_labels
        self.fisher_norm = fisher_norm
        self.fishers: list[dict[str, Tensor]] = []
        self.anchors: list[dict[str, Tensor]] = []
        self._merged: tuple[dict[str, tuple[Tensor, Tensor]], Tensor] | None = None

    def _task_fisher(self, learner: ContinualLearner, task: Task) -> dict[str, Tensor]:
        mask = learner.stream.output_mask(task.index)
        fisher = fisher_information(
            learner.inner,
            [task.x_train],
            mask=mask,
            max_samples=self.fisher_samples,
            labels=self.fisher_labels,
        )
        return normalise_fisher(fisher) if self.fisher_norm == "sum" else fisher

    def _anchor(self, learner: ContinualLearner) -> dict[str, Tensor]:
        return {n: p.detach().clone() for n, p in _params(learner.inner).items()}

    def after_task(self, learner: ContinualLearner, task: Task) -> None:
        self.fishers.append(self._task_fisher(learner, task))
        self.anchors.append(self._anchor(learner))
        if self.anchor == "latest":
            self.anchors = [self.anchors[-1]] * len(self.fishers)
        self._merged = None
        self._learner = learner

    def before_task(self, learner: ContinualLearner, task: Task) -> None:
        self._learner = learner

    def penalty(self) -> Tensor:
        """``lambda/2 sum_t F_t (theta - theta*_t)^2``, evaluated as the one quadratic it
        equals, ``lambda/2 (A (theta - mu)^2 + c)`` with ``A = sum_t F_t`` and
        ``mu = sum_t F_t theta*_t / A``: the cost per step does not grow with the tasks."""
        model = self._learner.inner
        if self._merged is None:
            self._merged = _merge(self.fishers, self.anchors)
        merged, constant = self._merged
        total = [
            (merged[n][0] * (p - merged[n][1]) ** 2).sum()
            for n, p in _params(model).items()
            if n in merged
        ]
        if not total:
            return torch.zeros(())
        return 0.5 * self.strength * (torch.stack(total).sum() + constant)

    def on_loss(self, trainer: Trainer, loss: Tensor, inputs: Tensor, targets: Tensor) -> Tensor:
        if not self.fishers:
            return loss
        return loss + self.penalty()

    def artifacts(self) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for t, (f, a) in enumerate(zip(self.fishers, self.anchors, strict=True)):
            out.update({f"fisher.{t}.{n}": v for n, v in f.items()})
            if t == len(self.anchors) - 1 or a is not self.anchors[-1]:
                out.update({f"anchor.{t}.{n}": v for n, v in a.items()})  # shared: once
        return out

    def load_artifacts(self, tensors: dict[str, Tensor]) -> None:
        self._merged = None
        tasks = sorted({int(k.split(".")[1]) for k in tensors if k.startswith("fisher.")})
        anchors: dict[int, dict[str, Tensor]] = {}
        for t in tasks:
            prefix_f, prefix_a = f"fisher.{t}.", f"anchor.{t}."
            self.fishers.append(
                {k[len(prefix_f) :]: v for k, v in tensors.items() if k.startswith(prefix_f)}
            )
            anchor = {k[len(prefix_a) :]: v for k, v in tensors.items() if k.startswith(prefix_a)}
            if anchor:
                anchors[t] = anchor
        for t in tasks:  # a task stored without its own anchor shares the latest one
            self.anchors.append(anchors.get(t) or anchors[max(anchors)])


@register_strategy("online_ewc", options="online_ewc")
class OnlineEWC(EWC):
    """Online EWC: one running Fisher ``F = gamma F_old + F_task`` and the latest anchor."""

    def __init__(
        self,
        *,
        lambda_: float = 10000.0,
        gamma: float = 1.0,
        fisher_samples: int = 500,
        fisher_labels: Literal["expected", "argmax"] = "expected",
        fisher_norm: Literal["sum", "none"] = "sum",
    ) -> None:
        super().__init__(
            lambda_=lambda_,
            fisher_samples=fisher_samples,
            fisher_labels=fisher_labels,
            fisher_norm=fisher_norm,
        )
        self.gamma = gamma

    def after_task(self, learner: ContinualLearner, task: Task) -> None:
        new = self._task_fisher(learner, task)
        if self.fishers:
            old = self.fishers[0]
            new = {n: self.gamma * old[n] + f for n, f in new.items()}
        self.fishers = [new]
        self.anchors = [self._anchor(learner)]
        self._merged = None
        self._learner = learner


@register_strategy("si", options="si")
class SI(Plugin):
    """Synaptic intelligence: importance from each parameter's contribution to the drop of
    the loss along its trajectory, ``omega += -grad * delta``, normalised at task end."""

    def __init__(self, *, c: float = 100.0, xi: float = 0.1) -> None:
        self.c, self.xi = c, xi
        self.omega: dict[str, Tensor] = {}  # consolidated importance
        self.anchor: dict[str, Tensor] = {}
        self._w: dict[str, Tensor] = {}
        self._start: dict[str, Tensor] = {}
        self._prev: dict[str, Tensor] = {}
        self._grad: dict[str, Tensor] = {}

    def without_stored_state(self, learner: ContinualLearner, task: Task, parent: str) -> None:
        raise ConfigError(
            f"si needs the importances of the parent's training, which {parent} "
            "does not store; use ewc, lwf or replay"
        )

    def before_task(self, learner: ContinualLearner, task: Task) -> None:
        self._learner = learner
        params = _params(learner.inner)
        self._start = {n: p.detach().clone() for n, p in params.items()}
        self._w = {n: torch.zeros_like(p) for n, p in params.items()}
        self._prev, self._grad = {}, {}

    def _accumulate(self) -> None:
        for n, p in _params(self._learner.inner).items():
            if n in self._grad:
                self._w[n] -= self._grad[n] * (p.detach() - self._prev[n])

    def on_after_backward(self, trainer: Trainer) -> None:
        self._accumulate()  # the step taken since the previous backward pass
        for n, p in _params(self._learner.inner).items():
            if p.grad is not None:
                self._grad[n] = p.grad.detach().clone()
                self._prev[n] = p.detach().clone()

    def after_task(self, learner: ContinualLearner, task: Task) -> None:
        self._accumulate()  # the last optimizer step of the task
        for n, p in _params(learner.inner).items():
            delta = p.detach() - self._start[n]
            gain = torch.clamp(self._w[n], min=0) / (delta**2 + self.xi)
            self.omega[n] = self.omega.get(n, torch.zeros_like(p)) + gain
            self.anchor[n] = p.detach().clone()
        self._grad = {}

    def penalty(self) -> Tensor:
        total = [
            (self.omega[n] * (p - self.anchor[n]) ** 2).sum()
            for n, p in _params(self._learner.inner).items()
            if n in self.omega
        ]
        return self.c * torch.stack(total).sum() if total else torch.zeros(())

    def on_loss(self, trainer: Trainer, loss: Tensor, inputs: Tensor, targets: Tensor) -> Tensor:
        if not self.omega:
            return loss
        return loss + self.penalty()

    def artifacts(self) -> dict[str, Tensor]:
        return {
            **{f"omega.{n}": v for n, v in self.omega.items()},
            **{f"anchor.{n}": v for n, v in self.anchor.items()},
        }

    def load_artifacts(self, tensors: dict[str, Tensor]) -> None:
        self.omega = {k[6:]: v for k, v in tensors.items() if k.startswith("omega.")}
        self.anchor = {k[7:]: v for k, v in tensors.items() if k.startswith("anchor.")}
