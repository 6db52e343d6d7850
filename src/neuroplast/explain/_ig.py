"""Integrated gradients with adaptive quadrature along the path, on Captum.

Integrated gradients integrate the gradient along the straight path from the baseline ``b``
to the input ``x``. The integral over the whole path is the sum of the integrals over pieces
of it, and the piece from ``b + lo (x - b)`` to ``b + hi (x - b)`` is itself a straight path:
Captum's :class:`~captum.attr.IntegratedGradients` with that start as baseline computes it,
and its convergence delta is *that piece's* exact quadrature error (Captum evaluates ``f`` at
both ends). So the error can be localised and only the pieces that carry it refined:

1. every row gets ``steps`` Gauss-Legendre nodes over the whole path (most rows end here);
2. rows whose relative error exceeds the tolerance are split into pieces that are short near
   the baseline (``BREAKS``: a transformer's logit can jump within 1 % of the path from the
   PAD embeddings, where 3200 uniform nodes were needed), ``piece_steps`` nodes each;
3. pieces carrying much of the remaining error are halved, all rows and pieces in one batch,
   until each row is within the tolerance or has used ``max_evals`` gradient evaluations.

The result is the same integral, with the same completeness check (sum of the scores against
``f(x) - f(b)``); only the nodes differ.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import Tensor

__all__ = ["BREAKS", "adaptive_integrated_gradients"]

logger = logging.getLogger(__name__)

#: Where failing rows are first cut (fractions of the path from the baseline).
BREAKS: tuple[float, ...] = (0.0, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)


@dataclass(eq=False)
class _Piece:
    row: int
    lo: float
    hi: float
    scores: Tensor | None = None
    delta: float = 0.0


def _evaluate(
    forward: Callable[..., Tensor],
    embedded: Tensor,
    pad: Tensor,
    batch: Tensor,
    target: Tensor,
    pieces: list[_Piece],
    steps: int,
) -> None:
    """Integrate every piece with ``steps`` nodes, in one batched Captum call."""
    from captum.attr import IntegratedGradients

    rows = torch.as_tensor([p.row for p in pieces], device=embedded.device)
    lo = torch.as_tensor([p.lo for p in pieces], device=embedded.device)[:, None, None]
    hi = torch.as_tensor([p.hi for p in pieces], device=embedded.device)[:, None, None]
    direction = embedded[rows] - pad[rows]
    attr, delta = IntegratedGradients(forward).attribute(
        pad[rows] + hi * direction,
        baselines=pad[rows] + lo * direction,
        target=target[rows],
        additional_forward_args=(batch[rows],),
        n_steps=steps,
        internal_batch_size=max(1, 4096 // max(1, batch.size(1))),
        return_convergence_delta=True,
    )
    scores = attr.sum(dim=-1).detach()
    for i, piece in enumerate(pieces):
        piece.scores, piece.delta = scores[i], float(delta[i])


def _unfinished(
    rows: Iterable[int],
    pieces: dict[int, list[_Piece]],
    bound: list[float],
    evals: dict[int, int],
    cost: int,
    max_evals: int,
) -> list[int]:
    """The rows whose pieces' deltas still sum over their bound and that can afford
    ``cost`` more evaluations."""
    return [
        r
        for r in rows
        if abs(sum(p.delta for p in pieces[r])) > bound[r] and evals[r] + cost <= max_evals
    ]


def _halved(
    row: int, pieces: list[_Piece], bound: float, budget: int
) -> tuple[list[_Piece], list[_Piece]]:
    """The pieces of ``row`` to halve next and their halves: those whose delta is over their
    share of the row's ``bound`` (else the worst one), worst first, at most ``budget``."""
    share = bound / (2 * len(pieces))
    worst = [p for p in pieces if abs(p.delta) > share]
    split = worst or [max(pieces, key=lambda p: abs(p.delta))]
    split = sorted(split, key=lambda p: -abs(p.delta))[:budget]
    halves: list[_Piece] = []
    for p in split:
        middle = (p.lo + p.hi) / 2
        halves += [_Piece(row, p.lo, middle), _Piece(row, middle, p.hi)]
    return split, halves


def _summed(
    pieces: dict[int, list[_Piece]], n: int, shape: torch.Size, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Each row's scores ``[n, T]`` and completeness delta ``[n]``: its pieces' sums."""
    scores = torch.zeros(shape, device=device)
    delta = torch.zeros(n, device=device)
    for r in range(n):
        for p in pieces[r]:
            if p.scores is not None:
                scores[r] += p.scores
            delta[r] += p.delta
    return scores, delta


def adaptive_integrated_gradients(
    forward: Callable[..., Tensor],
    embedded: Tensor,
    pad: Tensor,
    batch: Tensor,
    target: Tensor,
    *,
    tolerance: float,
    steps: int = 50,
    piece_steps: int = 16,
    max_evals: int = 3200,
) -> tuple[Tensor, Tensor, Tensor]:
    """Scores ``[B, T]``, completeness deltas ``[B]`` and ``f(x) - f(b)`` ``[B]``.

    ``forward(embedded, batch) -> logits``; ``pad`` is the baseline (same shape as
    ``embedded``); a row is done when ``|delta| <= tolerance * |f(x) - f(b)|``.
    """
    n = batch.size(0)
    with torch.no_grad():
        rows = torch.arange(n, device=embedded.device)
        gap = forward(embedded, batch)[rows, target] - forward(pad, batch)[rows, target]
    bound = [tolerance * max(abs(float(g)), 1e-6) for g in gap]
    whole = [_Piece(row, 0.0, 1.0) for row in range(n)]
    _evaluate(forward, embedded, pad, batch, target, whole, steps)
    pieces: dict[int, list[_Piece]] = {p.row: [p] for p in whole}
    evals = dict.fromkeys(range(n), steps)
    cut_cost = piece_steps * (len(BREAKS) - 1)
    failing = _unfinished(range(n), pieces, bound, evals, cut_cost, max_evals)
    if failing:
        cut = [_Piece(r, lo, hi) for r in failing for lo, hi in pairwise(BREAKS)]
        _evaluate(forward, embedded, pad, batch, target, cut, piece_steps)
        for r in failing:
            pieces[r] = [p for p in cut if p.row == r]
            evals[r] += cut_cost
    while True:
        todo = _unfinished(failing, pieces, bound, evals, 2 * piece_steps, max_evals)
        if not todo:
            break
        halves: list[_Piece] = []
        for r in todo:
            budget = (max_evals - evals[r]) // (2 * piece_steps)
            split, new = _halved(r, pieces[r], bound[r], budget)
            halves += new
            pieces[r] = [p for p in pieces[r] if p not in split]
            evals[r] += 2 * piece_steps * len(split)
        _evaluate(forward, embedded, pad, batch, target, halves, piece_steps)
        for piece in halves:
            pieces[piece.row].append(piece)
    scores, delta = _summed(pieces, n, batch.shape, embedded.device)
    unconverged = sum(abs(float(delta[r])) > bound[r] for r in range(n))
    if unconverged:
        logger.info("%d rows did not converge within %g %%", unconverged, 100 * tolerance)
    return scores, delta, gap
