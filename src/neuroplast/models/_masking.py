"""Padding masks for token ids (padding id 0) and the masked reductions built on them.

Every text architecture derives its mask from ``input_ids != 0`` so that its output for a
sequence does not depend on how much padding follows it. A row made only of padding would
leave nothing to attend to or pool over; :func:`nonempty` keeps its first position so that
the model returns finite logits for it instead of NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor

from neuroplast.errors import DataError

__all__ = ["PADDING_ID", "masked_max", "masked_mean", "nonempty", "padding_mask"]

PADDING_ID = 0


def padding_mask(input_ids: Tensor) -> Tensor:
    """Boolean mask ``[B, T]``, True where ``input_ids`` holds a real token (not ``PADDING_ID``)."""
    if input_ids.dim() != 2:
        raise DataError(
            f"text models take token ids of shape [batch, seq_len], got shape "
            f"{tuple(input_ids.shape)}; add a batch dimension with input_ids.unsqueeze(0)"
        )
    return input_ids != PADDING_ID


def nonempty(mask: Tensor) -> Tensor:
    """``mask`` with the first position switched on in rows that have no real token."""
    first = torch.arange(mask.size(1), device=mask.device) == 0
    return mask | (first.unsqueeze(0) & ~mask.any(dim=1, keepdim=True))


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x[B, T, D]`` over the positions where ``mask[B, T]`` is True."""
    weights = mask.unsqueeze(-1).to(x.dtype)
    return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def masked_max(x: Tensor, mask: Tensor) -> Tensor:
    """Maximum of ``x[B, C, T]`` over the positions where ``mask[B, T]`` is True."""
    return x.masked_fill(~mask.unsqueeze(1), float("-inf")).amax(dim=-1)
