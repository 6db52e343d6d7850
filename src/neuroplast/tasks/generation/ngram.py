"""The n-gram baseline: interpolated Kneser-Ney (Chen & Goodman 1998), written with
:mod:`collections`.

Highest order: discounted counts ``max(c(h,w) - D, 0) / c(h)``; lower orders: the same with
continuation counts (how many distinct tokens precede the n-gram), each interpolated with
the next lower order by the discounted mass ``D * types(h) / total(h)``; the lowest order is
interpolated with the uniform distribution over the vocabulary, so no token has probability
zero. One discount per order, ``D = n1 / (n1 + 2 n2)`` (n1, n2: n-grams seen once, twice).
A context never seen backs off entirely to the lower order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from neuroplast.errors import DataError

__all__ = ["KneserNey"]


class KneserNey:
    """``KneserNey(order, vocab_size).fit(stream)``; then ``nll(stream)`` / ``perplexity``."""

    def __init__(self, order: int, vocab_size: int) -> None:
        if order < 1:
            raise DataError(f"n-gram order {order}: must be 1 or more")
        self.order, self.vocab_size = order, vocab_size
        self.counts: list[Counter[tuple[int, ...]]] = []
        self.totals: list[Counter[tuple[int, ...]]] = []
        self.types: list[Counter[tuple[int, ...]]] = []
        self.discounts: list[float] = []

    def fit(self, stream: Sequence[int]) -> KneserNey:
        """Count the n-grams of a token stream (index k of each list is order k + 1)."""
        if len(stream) < 2:
            raise DataError("the n-gram baseline needs a training stream of 2 tokens or more")
        n = self.order
        grams = Counter(zip(*(stream[i:] for i in range(n)), strict=False))
        per_order: list[Counter[tuple[int, ...]]] = [grams]
        for _ in range(n - 1):  # continuation counts: distinct left neighbours
            per_order.append(Counter(g[1:] for g in per_order[-1]))
        self.counts = per_order[::-1]
        self.totals, self.types, self.discounts = [], [], []
        for counts in self.counts:
            totals: Counter[tuple[int, ...]] = Counter()
            types: Counter[tuple[int, ...]] = Counter()
            for gram, c in counts.items():
                totals[gram[:-1]] += c
                types[gram[:-1]] += 1
            self.totals.append(totals)
            self.types.append(types)
            ones = sum(1 for c in counts.values() if c == 1)
            twos = sum(1 for c in counts.values() if c == 2)
            self.discounts.append(ones / (ones + 2 * twos) if ones + twos else 0.5)
        return self

    def prob(self, history: Sequence[int], token: int) -> float:
        """P(token | the last ``order - 1`` tokens of ``history``)."""
        p = 1.0 / self.vocab_size
        for k in range(self.order):
            h = tuple(history[len(history) - k :]) if k else ()
            if len(h) < k:
                break
            total = self.totals[k].get(h, 0)
            if not total:
                break  # unseen context: longer ones are unseen too
            d = self.discounts[k]
            c = self.counts[k].get((*h, token), 0)
            p = (max(c - d, 0.0) + d * self.types[k][h] * p) / total
        return p

    def nll(self, stream: Sequence[int]) -> tuple[float, int]:
        """Summed negative log-likelihood (nats) of ``stream[1:]`` and how many tokens."""
        return math.fsum(self.token_nll(stream)), max(0, len(stream) - 1)

    def token_nll(self, stream: Sequence[int]) -> list[float]:
        """The negative log-likelihood (nats) of each of ``stream[1:]``."""
        if not self.counts:
            raise DataError("fit the n-gram model before scoring")
        n = self.order
        return [
            -math.log(self.prob(stream[max(0, i - n + 1) : i], stream[i]))
            for i in range(1, len(stream))
        ]

    def perplexity(self, stream: Sequence[int]) -> float:
        total, count = self.nll(stream)
        if count == 0:
            raise DataError("the evaluation stream needs 2 tokens or more")
        return math.exp(total / count)
