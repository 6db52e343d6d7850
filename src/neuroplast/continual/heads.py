"""Multi-head task-IL: one output layer per task in place of the model's ``classifier``.

Each task's head has as many outputs as the task has classes; their logits are laid out at
the classes' global positions, so labels, masks and metrics stay as with the single masked
head. A head whose task had no row in a batch gets no gradient at all (not a zero one), so
neither Adam's momentum nor weight decay moves it while other tasks train.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor, nn

from neuroplast.errors import ConfigError

__all__ = ["TaskHeads", "add_task_heads", "drop_idle_head_grads", "merge_task_heads"]


class TaskHeads(nn.Module):
    """``forward(features[B, D]) -> logits[B, K]``: task ``t``'s head fills the outputs of
    ``groups[t]``; the groups partition ``range(K)``."""

    def __init__(self, in_features: int, groups: Sequence[Sequence[int]]) -> None:
        super().__init__()
        order = [int(c) for g in groups for c in g]
        if sorted(order) != list(range(len(order))):
            raise ConfigError(
                f"heads=multi needs each class in exactly one task; got tasks {list(groups)}"
            )
        self.heads = nn.ModuleList(nn.Linear(in_features, len(g)) for g in groups)
        self.inverse = torch.empty(len(order), dtype=torch.long)
        self.inverse[torch.tensor(order)] = torch.arange(len(order))
        self.groups = [list(map(int, g)) for g in groups]

    def forward(self, features: Tensor) -> Tensor:
        logits = torch.cat([head(features) for head in self.heads], dim=1)
        return logits[:, self.inverse]


def add_task_heads(model: nn.Module, groups: Sequence[Sequence[int]]) -> nn.Module:
    """``model`` with its ``classifier`` (an ``nn.Linear``) replaced by one head per task."""
    classifier = getattr(model, "classifier", None)
    if not isinstance(classifier, nn.Linear):
        raise ConfigError(
            f"heads=multi replaces the model's `classifier` layer, which "
            f"{type(model).__name__} does not have as an nn.Linear; use heads: single"
        )
    model.classifier = TaskHeads(classifier.in_features, groups)
    return model


def merge_task_heads(model: nn.Module) -> nn.Module:
    """``model`` with its task heads folded back into one ``nn.Linear`` over every class (in
    place): the same logits, so a registered version loads as the plain architecture, whose
    task-IL use is the masked single head."""
    heads = getattr(model, "classifier", None)
    if not isinstance(heads, TaskHeads):
        return model
    layers = [cast(nn.Linear, head) for head in heads.heads]
    merged = nn.Linear(layers[0].in_features, sum(len(g) for g in heads.groups))
    with torch.no_grad():
        for group, head in zip(heads.groups, layers, strict=True):
            merged.weight[group] = head.weight
            merged.bias[group] = head.bias
    model.classifier = merged
    return model


def drop_idle_head_grads(model: nn.Module) -> None:
    """Sets to None the gradients of task heads that received none in this step."""
    heads = getattr(model, "classifier", None)
    if not isinstance(heads, TaskHeads):
        return
    for head in heads.heads:
        params = list(head.parameters())
        if all(p.grad is None or not bool(p.grad.any()) for p in params):
            for p in params:
                p.grad = None
