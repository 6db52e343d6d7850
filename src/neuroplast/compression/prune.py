"""Magnitude pruning, with an optional fine-tune that keeps the pruned weights at zero.

Unstructured pruning zeroes the ``amount`` smallest-magnitude entries of every weight
matrix (embeddings, convolutions, linear and recurrent weights; per tensor, so no layer is
emptied). Structured pruning zeroes whole output channels / rows with the smallest L2 norm
(convolutions and hidden linear layers). The classifier head is never pruned. Dense tensors
are kept (the file does not shrink); the zeros are what a sparse or smaller layout exploits.
"""

from __future__ import annotations

import copy
import logging

import torch
from torch import Tensor, nn

from neuroplast.errors import ConfigError
from neuroplast.training.callbacks import Callback

__all__ = ["KeepPruned", "apply_masks", "magnitude_masks", "prune_copy", "sparsity"]

logger = logging.getLogger(__name__)

_HEADS = ("classifier.",)


def _prunable(model: nn.Module, structured: bool) -> list[tuple[str, Tensor]]:
    chosen: list[tuple[str, Tensor]] = []
    for name, param in model.named_parameters():
        if name.startswith(_HEADS) or param.dim() < 2:
            continue
        if structured and ("embedding" in name or name.startswith(("lstm.", "rnn."))):
            continue
        chosen.append((name, param))
    return chosen


@torch.no_grad()
def magnitude_masks(
    model: nn.Module, amount: float, *, structured: bool = False
) -> dict[str, Tensor]:
    """Boolean keep-masks (True = kept) per weight tensor of ``model``."""
    if not 0.0 < amount < 1.0:
        raise ConfigError(f"--prune amount must be between 0 and 1 (a share), got {amount}")
    masks = {}
    for name, param in _prunable(model, structured):
        if structured:
            norms = param.flatten(1).norm(dim=1)
            drop = round(amount * norms.numel())
            keep = torch.ones_like(norms, dtype=torch.bool)
            if drop:
                keep[norms.argsort()[:drop]] = False
            masks[name] = keep.view(-1, *([1] * (param.dim() - 1))).expand_as(param).clone()
        else:
            flat = param.abs().flatten()
            drop = round(amount * flat.numel())
            keep = torch.ones_like(flat, dtype=torch.bool)
            if drop:
                keep[flat.argsort()[:drop]] = False
            masks[name] = keep.view_as(param)
    if not masks:
        raise ConfigError(f"{type(model).__name__} has no weights that can be pruned")
    return masks


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict[str, Tensor]) -> None:
    params = dict(model.named_parameters())
    for name, mask in masks.items():
        params[name].mul_(mask.to(params[name].dtype))


def sparsity(model: nn.Module, masks: dict[str, Tensor]) -> float:
    """Share of zeros in the masked tensors."""
    params = dict(model.named_parameters())
    total = sum(params[n].numel() for n in masks)
    zeros = sum(int((params[n] == 0).sum()) for n in masks)
    return zeros / total if total else 0.0


class KeepPruned(Callback):
    """Fine-tuning callback: masks the gradients of pruned weights (so Adam/AdamW leave them
    at exactly zero) and re-applies the masks after every epoch."""

    def __init__(self, model: nn.Module, masks: dict[str, Tensor]) -> None:
        self.model = model
        self.masks = masks
        self.params = dict(model.named_parameters())

    def on_after_backward(self, trainer: object) -> None:
        for name, mask in self.masks.items():
            grad = self.params[name].grad
            if grad is not None:
                grad.mul_(mask.to(grad.dtype))

    def on_epoch_end(self, trainer: object, metrics: object) -> None:
        apply_masks(self.model, self.masks)


def prune_copy(
    model: nn.Module, amount: float, *, structured: bool = False
) -> tuple[nn.Module, dict[str, Tensor]]:
    """A pruned copy of ``model`` and its masks; ``model`` is not changed."""
    pruned = copy.deepcopy(model).cpu()
    masks = magnitude_masks(pruned, amount, structured=structured)
    apply_masks(pruned, masks)
    logger.info("pruned %d tensors to %.1f%% zeros", len(masks), 100 * sparsity(pruned, masks))
    return pruned, masks
