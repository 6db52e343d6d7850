"""Is an explanation faithful to the model? Two measured checks for text attributions.

* Deletion test: delete (replace by PAD) the ``k`` tokens a method ranks highest for the
  predicted class, and ``k`` random tokens; a faithful method lowers the predicted-class
  probability more than chance does, on average. Models that pack their sequences by length
  (the LSTMs) read a PAD inside a text as the end of it, so for them the deleted tokens are
  removed and the text re-padded at the end instead.
* Completeness: integrated gradients' scores add up to ``f(x) - f(baseline)`` (the target
  logit at the text minus at the all-PAD baseline); Captum's convergence delta measures the
  gap, reported relative to ``|f(x) - f(baseline)|``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from neuroplast.errors import DataError
from neuroplast.explain.text import IG_TOLERANCE, TextExplainer

__all__ = [
    "CompletenessResult",
    "DeletionResult",
    "TextChecks",
    "completeness",
    "delete_tokens",
    "deletion_test",
    "packs_sequences",
    "select_texts",
    "text_checks",
]


@dataclass(frozen=True)
class DeletionResult:
    """Mean drop of the predicted-class probability after deleting ``k`` tokens."""

    method: str
    n: int
    k: int
    top_drop: float
    random_drop: float
    win_rate: float
    seconds: float

    @property
    def passed(self) -> bool:
        return self.top_drop > self.random_drop


@dataclass(frozen=True)
class CompletenessResult:
    """How closely integrated gradients' scores add up to ``f(x) - f(baseline)``."""

    n: int
    tolerance: float
    within: float
    median_relative: float
    max_relative: float
    seconds: float

    @property
    def passed(self) -> bool:
        return self.within >= 1.0


def packs_sequences(model: nn.Module) -> bool:
    """Whether the model runs a recurrent layer over packed (length-sorted) sequences."""
    return any(isinstance(m, nn.RNNBase) for m in model.modules())


def delete_tokens(
    ids: Sequence[int], positions: Sequence[int] | np.ndarray, *, compact: bool
) -> list[int]:
    """``ids`` with ``positions`` replaced by PAD (0), or removed when ``compact``."""
    drop = set(int(p) for p in positions)
    if compact:
        kept = [t for i, t in enumerate(ids) if i not in drop]
        return kept + [0] * (len(ids) - len(kept))
    return [0 if i in drop else int(t) for i, t in enumerate(ids)]


def select_texts(
    explainer: TextExplainer, texts: Sequence[str], n: int, *, min_tokens: int
) -> list[list[int]]:
    """The first ``n`` texts with at least ``min_tokens`` tokens, not all unknown, as ids."""
    chosen: list[list[int]] = []
    for text in texts:
        try:
            _, ids = explainer.tokenize([text])
        except DataError:
            continue
        if len(ids[0]) >= min_tokens:
            chosen.append(ids[0])
        if len(chosen) == n:
            break
    if not chosen:
        raise DataError(f"none of the {len(texts)} texts has {min_tokens} known tokens or more")
    return chosen


def _drop(
    explainer: TextExplainer,
    ids: Sequence[Sequence[int]],
    positions: Sequence[Sequence[int] | np.ndarray],
    targets: np.ndarray,
    before: np.ndarray,
    compact: bool,
) -> np.ndarray:
    deleted = [delete_tokens(s, p, compact=compact) for s, p in zip(ids, positions, strict=True)]
    after = explainer.predict_proba(deleted)[np.arange(len(ids)), targets]
    return before - after


@dataclass(frozen=True)
class TextChecks:
    """The deletion test of each method and, when ``ig`` ran, its completeness."""

    deletion: list[DeletionResult]
    completeness: CompletenessResult | None


def _completeness(
    deltas: Sequence[float | None], gaps: Sequence[float | None], tolerance: float, seconds: float
) -> CompletenessResult:
    relative = np.array(
        [abs(d or 0.0) / max(abs(g or 0.0), 1e-6) for d, g in zip(deltas, gaps, strict=True)]
    )
    return CompletenessResult(
        n=len(relative),
        tolerance=tolerance,
        within=float((relative <= tolerance).mean()),
        median_relative=float(np.median(relative)),
        max_relative=float(relative.max()),
        seconds=seconds,
    )


def _random_tokens(
    ids: Sequence[Sequence[int]], k: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """``k`` distinct token positions of each text, drawn at random."""
    return [rng.choice(len(s), size=k, replace=False) for s in ids]


def text_checks(
    explainer: TextExplainer,
    ids: Sequence[Sequence[int]],
    *,
    methods: Sequence[str] | None = None,
    k: int = 3,
    random_draws: int = 5,
    seed: int = 0,
    tolerance: float = IG_TOLERANCE,
) -> TextChecks:
    """Deletion test of each method on tokenized texts (each longer than ``k`` tokens), for
    the predicted class; integrated gradients' completeness from the same run."""
    short = [i + 1 for i, s in enumerate(ids) if len(s) <= k]
    if short:
        raise DataError(
            f"the deletion test deletes {k} tokens, so every text needs more than {k}; "
            f"text {short[0]} has {len(ids[short[0] - 1])}"
        )
    methods = list(methods or explainer.methods)
    for method in methods:
        explainer.check_method(method)
    compact = packs_sequences(explainer.model)
    probs = explainer.predict_proba(ids)
    targets = probs.argmax(axis=1)
    before = probs[np.arange(len(ids)), targets]
    rng = np.random.default_rng(seed)
    random_drops = np.mean(
        [
            _drop(explainer, ids, _random_tokens(ids, k, rng), targets, before, compact)
            for _ in range(random_draws)
        ],
        axis=0,
    )
    results, complete = [], None
    for method in methods:
        start = time.perf_counter()
        scores, deltas, gaps = explainer.attribute(ids, [int(t) for t in targets], method)
        seconds = time.perf_counter() - start
        if method == "ig":
            complete = _completeness(deltas, gaps, tolerance, seconds)
        top = [np.argsort(-s, kind="stable")[:k] for s in scores]
        drops = _drop(explainer, ids, top, targets, before, compact)
        results.append(
            DeletionResult(
                method=method,
                n=len(ids),
                k=k,
                top_drop=float(drops.mean()),
                random_drop=float(random_drops.mean()),
                win_rate=float((drops > random_drops).mean()),
                seconds=seconds,
            )
        )
    return TextChecks(deletion=results, completeness=complete)


def deletion_test(
    explainer: TextExplainer, ids: Sequence[Sequence[int]], **options: Any
) -> list[DeletionResult]:
    """:func:`text_checks`' deletion results alone."""
    return text_checks(explainer, ids, **options).deletion


def completeness(
    explainer: TextExplainer,
    ids: Sequence[Sequence[int]],
    *,
    tolerance: float = IG_TOLERANCE,
) -> CompletenessResult:
    """Integrated gradients' completeness error on tokenized texts, for the predicted class."""
    start = time.perf_counter()
    targets = explainer.predict_proba(ids).argmax(axis=1)
    _, deltas, gaps = explainer.attribute(ids, [int(t) for t in targets], "ig")
    return _completeness(deltas, gaps, tolerance, time.perf_counter() - start)
