"""Additive (Bahdanau-style) attention pooling over time steps, masked."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["AttentionPool"]


class AttentionPool(nn.Module):
    """Weights each time step by ``v . tanh(W h_t)`` and returns the weighted sum.

    ``forward(h[B, T, D], mask[B, T])`` returns ``(pooled[B, D], weights[B, T])``; positions
    where ``mask`` is False get weight 0. Every row of ``mask`` must have a True entry (see
    :func:`neuroplast.models._masking.nonempty`).
    """

    def __init__(self, dim: int, attention_dim: int | None = None) -> None:
        super().__init__()
        hidden = attention_dim or dim
        self.proj = nn.Linear(dim, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)

    def forward(self, h: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        scores = self.score(torch.tanh(self.proj(h))).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        pooled = torch.bmm(weights.unsqueeze(1), h).squeeze(1)
        return pooled, weights
