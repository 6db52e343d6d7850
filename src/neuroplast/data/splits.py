"""Stratified train / validation / test splits and stratified subsamples, as index arrays.

Both work per class so that every class keeps (about) its share, and both guarantee that every
class keeps at least one training row. Results are sorted index arrays and depend only on the
labels, the fractions and the seed.
"""

from __future__ import annotations

import logging

import numpy as np

from neuroplast.errors import ConfigError, DataError

__all__ = ["stratified_split", "stratified_subsample"]

logger = logging.getLogger(__name__)


def _as_labels(labels: np.ndarray) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise DataError(
            f"labels must be a 1-D integer array, got dtype {array.dtype} and shape "
            f"{array.shape}; pass TextData.labels or ImageData.labels"
        )
    return array


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{name}={value} is out of range; use a fraction in [0, 1), e.g. 0.1")


def _carve(indices: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A random ``fraction`` of ``indices`` (rounded), always leaving at least one behind."""
    take = min(round(len(indices) * fraction), max(len(indices) - 1, 0))
    return rng.permutation(indices)[:take]


def _split_around_mask(
    y: np.ndarray,
    test_mask: np.ndarray,
    val_fraction: float,
    test_fraction: float,
    rng: np.random.Generator,
) -> tuple[list[np.ndarray], np.ndarray]:
    """A predefined test set (the masked rows) and, per class, ``val_fraction`` of the
    others for validation."""
    mask = np.asarray(test_mask)
    if mask.dtype != np.bool_ or mask.shape != y.shape:
        raise DataError(
            f"test_mask has dtype {mask.dtype} and shape {mask.shape} but labels have shape "
            f"{y.shape}; pass a boolean mask with one entry per row"
        )
    if test_fraction:
        logger.debug("test_mask given: ignoring test_fraction=%s", test_fraction)
    test = np.flatnonzero(mask)
    rest = np.flatnonzero(~mask)
    val_parts = [_carve(rest[y[rest] == c], val_fraction, rng) for c in np.unique(y[rest])]
    missing = sorted(set(np.unique(y[test]).tolist()) - set(np.unique(y[rest]).tolist()))
    if missing:
        raise DataError(
            f"classes {missing} appear only in the predefined test set, so nothing can be "
            "trained on them; add training rows for them or drop the test_mask"
        )
    return val_parts, test


def _split_by_class(
    y: np.ndarray, val_fraction: float, test_fraction: float, rng: np.random.Generator
) -> tuple[list[np.ndarray], np.ndarray]:
    """Per class, ``test_fraction`` of the rows for test and ``val_fraction`` for
    validation, at least one left for training."""
    if val_fraction + test_fraction >= 1.0:
        raise ConfigError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves no "
            "training data; make their sum smaller than 1"
        )
    val_parts, test_parts = [], []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        n_test = min(round(len(members) * test_fraction), max(len(members) - 1, 0))
        n_val = min(round(len(members) * val_fraction), len(members) - n_test - 1)
        test_parts.append(members[:n_test])
        val_parts.append(members[n_test : n_test + max(n_val, 0)])
    test = np.concatenate(test_parts) if test_parts else np.zeros(0, dtype=np.int64)
    return val_parts, test


def stratified_split(
    labels: np.ndarray,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    test_mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split row indices into ``(train, val, test)``, class by class.

    Without ``test_mask``, each class gives ``round(n * test_fraction)`` rows to test and
    ``round(n * val_fraction)`` rows to validation, keeping at least one row for training.
    With ``test_mask`` (a predefined test set such as Fashion-MNIST's), test is exactly the
    masked rows, ``test_fraction`` is ignored, and validation is ``val_fraction`` of the other
    rows.
    """
    y = _as_labels(labels)
    _check_fraction("val_fraction", val_fraction)
    _check_fraction("test_fraction", test_fraction)
    rng = np.random.default_rng(seed)
    if test_mask is not None:
        val_parts, test = _split_around_mask(y, test_mask, val_fraction, test_fraction, rng)
    else:
        val_parts, test = _split_by_class(y, val_fraction, test_fraction, rng)
    val = np.concatenate(val_parts) if val_parts else np.zeros(0, dtype=np.int64)
    in_train = np.ones(len(y), dtype=bool)
    in_train[test] = False
    in_train[val] = False
    return (
        np.flatnonzero(in_train).astype(np.int64),
        np.sort(val).astype(np.int64),
        np.sort(test).astype(np.int64),
    )


def _allocate(counts: np.ndarray, minimum: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` rows over strata in proportion to ``counts`` with per-stratum minimums.

    Largest-remainder rounding of the proportional share, then raised to the minimums (taking
    the extra rows from the strata furthest above their share). The result never exceeds
    ``counts`` and sums to ``total`` (callers ensure ``minimum.sum() <= total <= counts.sum()``).
    """
    ideal = counts * (total / counts.sum())
    quota = np.minimum(np.maximum(np.floor(ideal).astype(np.int64), minimum), counts)
    while quota.sum() < total:
        gap = np.where(quota < counts, ideal - quota, -np.inf)
        quota[int(np.argmax(gap))] += 1
    while quota.sum() > total:
        excess = np.where(quota > minimum, quota - ideal, -np.inf)
        quota[int(np.argmax(excess))] -= 1
    return quota


def stratified_subsample(
    labels: np.ndarray, limit: int, *, seed: int, test_mask: np.ndarray | None = None
) -> np.ndarray:
    """Sorted indices of at most ``limit`` rows that keep every class (and their shares).

    With ``test_mask`` the test share of each class is kept too, and each class keeps at least
    one row outside the test set, so a split of the subsample can still train on every class.
    """
    y = _as_labels(labels)
    classes = np.unique(y)
    if limit < len(classes):
        raise ConfigError(
            f"limit={limit} is smaller than the number of classes ({len(classes)}); use a "
            f"limit of at least {len(classes)} or no limit"
        )
    if limit >= len(y):
        return np.arange(len(y), dtype=np.int64)
    is_test = np.zeros(len(y), dtype=bool) if test_mask is None else np.asarray(test_mask)
    strata = y.astype(np.int64) * 2 + is_test.astype(np.int64)
    keys, counts = np.unique(strata, return_counts=True)
    # Each class keeps one row: its training stratum when it has one, else its test stratum.
    minimum = np.zeros(len(keys), dtype=np.int64)
    for c in classes:
        positions = np.flatnonzero(keys // 2 == c)
        minimum[positions[0]] = 1
    quota = _allocate(counts, minimum, limit)
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(strata == key), size=int(q), replace=False)
        for key, q in zip(keys, quota, strict=True)
    ]
    return np.sort(np.concatenate(chosen)).astype(np.int64)
