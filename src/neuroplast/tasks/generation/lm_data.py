"""Token streams cut into training windows, batched for the one training loop.

A window is ``context + 1`` consecutive tokens: the model reads the first ``context`` and
predicts the last ``context``. Batches are ``(inputs [B, T], targets [B * T])`` and the
model is wrapped by :class:`FlatLogits` to return ``[B * T, V]`` logits, so that
:class:`~neuroplast.training.Trainer`'s cross-entropy, validation loss (mean per token) and
accuracy (next-token accuracy) apply unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from neuroplast.errors import DataError

__all__ = ["FlatLogits", "WindowBatches", "windows"]


def windows(stream: list[int], context: int) -> Tensor:
    """Non-overlapping windows ``[N, context + 1]`` (consecutive ones share one token); a
    stream shorter than one window gives a single shorter window."""
    if len(stream) < 2:
        raise DataError("the token stream is too short for a language model (2 tokens or more)")
    data = torch.tensor(stream, dtype=torch.long)
    if len(stream) <= context + 1:
        return data[None, :]
    n = (len(stream) - 1) // context
    return data[: n * context + 1].unfold(0, context + 1, context)


class _EpochSampler:
    """Shuffles window order by (seed, epoch): the Trainer calls ``set_epoch``."""

    def __init__(self, seed: int | None) -> None:
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


class WindowBatches:
    """An iterable of ``(inputs, flat targets)`` batches over the windows of a stream."""

    def __init__(
        self,
        stream: list[int],
        *,
        context: int,
        batch_size: int,
        seed: int | None = None,
        per_epoch: int | None = None,
    ) -> None:
        self.data = windows(stream, context)
        self.batch_size = batch_size
        self.sampler = _EpochSampler(seed)
        self.per_epoch = min(per_epoch or self.data.shape[0], self.data.shape[0])

    def __len__(self) -> int:
        return math.ceil(self.per_epoch / self.batch_size)

    @property
    def tokens(self) -> int:
        """How many tokens are predicted in one pass."""
        return int(self.data.shape[0] * (self.data.shape[1] - 1))

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order = torch.arange(self.data.shape[0])
        if self.sampler.seed is not None:
            g = torch.Generator().manual_seed(self.sampler.seed * 1000 + self.sampler.epoch)
            order = torch.randperm(self.data.shape[0], generator=g)
        order = order[: self.per_epoch]
        for i in range(0, len(order), self.batch_size):
            batch = self.data[order[i : i + self.batch_size]]
            yield batch[:, :-1], batch[:, 1:].reshape(-1)


class FlatLogits(nn.Module):
    """``[B, T]`` ids -> ``[B * T, V]`` logits of the wrapped language model."""

    def __init__(self, lm: nn.Module) -> None:
        super().__init__()
        self.lm = lm

    def forward(self, idx: Tensor) -> Tensor:
        logits: Tensor = self.lm(idx)
        return logits.reshape(-1, logits.shape[-1])
