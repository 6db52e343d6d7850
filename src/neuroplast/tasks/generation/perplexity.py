"""Perplexity of a language model and of the n-gram baseline on the same token stream.

Every token of the stream after the first is predicted once. The neural models read the
stream in windows of ``context`` tokens overlapping by half, each scoring the tokens after
the previous window's (so a scored token sees at least ``context / 2`` tokens of history);
the n-gram model sees its ``order - 1`` previous tokens. Figures are per token
of the stated tokenisation, with bits per character beside them so that character and
subword models compare.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuroplast.errors import DataError
from neuroplast.tasks.generation.ngram import KneserNey

__all__ = ["Perplexity", "baseline_perplexity", "model_perplexity", "token_losses"]


@dataclass(frozen=True)
class Perplexity:
    """Mean negative log-likelihood (nats per token) over ``tokens`` tokens of ``chars``
    characters of text."""

    nll_sum: float
    tokens: int
    chars: int
    seconds: float = 0.0

    @property
    def loss(self) -> float:
        return self.nll_sum / self.tokens

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss)

    @property
    def bits_per_char(self) -> float:
        return self.nll_sum / math.log(2) / max(1, self.chars)

    def summary(self) -> dict[str, Any]:
        return {
            "perplexity": round(self.perplexity, 4),
            "loss": round(self.loss, 5),
            "bits_per_char": round(self.bits_per_char, 4),
            "tokens": self.tokens,
            "chars": self.chars,
            "seconds": round(self.seconds, 2),
        }


def model_perplexity(
    model: nn.Module,
    stream: list[int],
    *,
    context: int,
    chars: int,
    batch_size: int = 32,
    stride: int | None = None,
) -> Perplexity:
    """Perplexity of ``model`` over ``stream``, read in windows of ``context`` tokens that
    start every ``stride`` tokens (default ``context // 2``): each window scores only the
    tokens after the previous window's, so every token but the first few sees at least
    ``context - stride`` tokens of history. ``stride = context``: consecutive windows."""
    started = time.perf_counter()
    losses = token_losses(model, stream, context=context, batch_size=batch_size, stride=stride)
    return Perplexity(float(losses.sum()), len(stream) - 1, chars, time.perf_counter() - started)


@torch.inference_mode()
def token_losses(
    model: nn.Module,
    stream: list[int],
    *,
    context: int,
    batch_size: int = 32,
    stride: int | None = None,
) -> torch.Tensor:
    """The negative log-likelihood (nats, float64) of each of ``stream[1:]``, read as in
    :func:`model_perplexity`: element ``i`` is the loss of token ``i + 1``."""
    if len(stream) < 2:
        raise DataError("the evaluation text is too short: it needs 2 tokens or more")
    stride = max(1, context // 2) if stride is None else stride
    if not 1 <= stride <= context:
        raise DataError(f"stride {stride}: must be between 1 and the context ({context})")
    model.eval()
    skip = context - stride  # targets of a window already scored by the one before
    starts = [0, *range(stride, max(1, len(stream) - 1 - skip), stride)]
    full = [s for s in starts if s + context + 1 <= len(stream)]
    out = torch.zeros(len(stream) - 1, dtype=torch.float64)
    for i in range(0, len(full), batch_size):
        chunk = full[i : i + batch_size]
        batch = torch.tensor([stream[s : s + context + 1] for s in chunk])
        _scatter(out, _losses(model, batch), chunk, skip)
    for s in starts[len(full) :]:  # the last, shorter window
        _scatter(out, _losses(model, torch.tensor([stream[s:]])), [s], skip)
    return out


def _losses(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Cross-entropy ``[rows, T]`` of each row's targets."""
    logits = model(batch[:, :-1]).float()
    return F.cross_entropy(logits.transpose(1, 2), batch[:, 1:], reduction="none")


def _scatter(out: torch.Tensor, losses: torch.Tensor, starts: list[int], skip: int) -> None:
    """Write each window's losses after its first ``skip`` (none for the window at 0)."""
    for row, s in enumerate(starts):
        first = 0 if s == 0 else skip
        out[s + first : s + losses.shape[1]] = losses[row, first:].double()


def baseline_perplexity(
    train: list[int], stream: list[int], *, order: int, vocab_size: int, chars: int
) -> tuple[Perplexity, KneserNey]:
    """Fit interpolated Kneser-Ney of ``order`` on ``train``; its perplexity on ``stream``."""
    started = time.perf_counter()
    ngram = KneserNey(order, vocab_size).fit(train)
    nll, count = ngram.nll(stream)
    return Perplexity(nll, count, chars, time.perf_counter() - started), ngram
