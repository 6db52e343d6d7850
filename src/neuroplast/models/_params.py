"""Counting the parameters of a model."""

from __future__ import annotations

from torch import nn

__all__ = ["count_parameters"]


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of scalar parameters in ``model``; a parameter shared by two modules counts once.

    With ``trainable_only=True`` only parameters with ``requires_grad`` are counted.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
