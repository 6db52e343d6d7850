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

__all__ = ["Perplexity", "baseline_perplexity", "model_perplexity"]


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


@torch.inference_mode()
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
    if len(stream) < 2:
        raise DataError("the evaluation text is too short: it needs 2 tokens or more")
    stride = max(1, context // 2) if stride is None else stride
    if not 1 <= stride <= context:
        raise DataError(f"stride {stride}: must be between 1 and the context ({context})")
    started = time.perf_counter()
    model.eval()
    skip = context - stride  # targets of a window already scored by the one before
    starts = [0, *range(stride, max(1, len(stream) - 1 - skip), stride)]
    full = [s for s in starts if s + context + 1 <= len(stream)]
    nll = 0.0
    for i in range(0, len(full), batch_size):
        chunk = full[i : i + batch_size]
        batch = torch.tensor([stream[s : s + context + 1] for s in chunk])
        nll += _nll(model, batch, [0 if s == 0 else skip for s in chunk])
    for s in starts[len(full) :]:  # the last, shorter window
        nll += _nll(model, torch.tensor([stream[s:]]), [0 if s == 0 else skip])
    return Perplexity(nll, len(stream) - 1, chars, time.perf_counter() - started)


def _nll(model: nn.Module, batch: torch.Tensor, skips: list[int]) -> float:
    """Summed cross-entropy of each row's targets after its first ``skips[row]``."""
    logits = model(batch[:, :-1]).float()
    losses = F.cross_entropy(logits.transpose(1, 2), batch[:, 1:], reduction="none")
    keep = torch.arange(losses.shape[1])[None, :] >= torch.tensor(skips)[:, None]
    return float(losses[keep].sum())


def baseline_perplexity(
    train: list[int], stream: list[int], *, order: int, vocab_size: int, chars: int
) -> tuple[Perplexity, KneserNey]:
    """Fit interpolated Kneser-Ney of ``order`` on ``train``; its perplexity on ``stream``."""
    started = time.perf_counter()
    ngram = KneserNey(order, vocab_size).fit(train)
    nll, count = ngram.nll(stream)
    return Perplexity(nll, count, chars, time.perf_counter() - started), ngram
