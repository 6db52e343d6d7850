"""stratified_split and stratified_subsample: proportions, disjointness, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from neuroplast.data import load_builtin, stratified_split
from neuroplast.data.splits import stratified_subsample
from neuroplast.errors import ConfigError, DataError


def check_partition(n: int, *parts: np.ndarray) -> None:
    joined = np.concatenate(parts)
    assert len(joined) == n, "every row is in exactly one split"
    assert np.array_equal(np.sort(joined), np.arange(n))


def test_proportions_disjointness_and_strata() -> None:
    labels = load_builtin("bbc_news").labels
    train, val, test = stratified_split(labels, val_fraction=0.1, test_fraction=0.2, seed=0)
    check_partition(len(labels), train, val, test)
    assert abs(len(test) / len(labels) - 0.2) < 0.005
    assert abs(len(val) / len(labels) - 0.1) < 0.005
    for c in range(5):
        share = np.mean(labels == c)
        for part in (train, val, test):
            assert abs(np.mean(labels[part] == c) - share) < 0.01
    assert all(p.dtype == np.int64 for p in (train, val, test))


def test_deterministic_for_a_seed() -> None:
    labels = np.repeat(np.arange(3), 50)
    a = stratified_split(labels, val_fraction=0.2, test_fraction=0.2, seed=5)
    b = stratified_split(labels, val_fraction=0.2, test_fraction=0.2, seed=5)
    c = stratified_split(labels, val_fraction=0.2, test_fraction=0.2, seed=6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[2], c[2])


def test_tiny_classes_stay_in_train() -> None:
    labels = np.array([0] * 20 + [1, 2, 2])
    train, val, test = stratified_split(labels, val_fraction=0.3, test_fraction=0.3, seed=0)
    check_partition(len(labels), train, val, test)
    assert set(labels[train].tolist()) == {0, 1, 2}


def test_predefined_test_mask() -> None:
    labels = np.tile(np.arange(4), 50)
    mask = np.zeros(len(labels), dtype=bool)
    mask[-40:] = True
    train, val, test = stratified_split(
        labels, val_fraction=0.25, test_fraction=0.5, seed=0, test_mask=mask
    )
    check_partition(len(labels), train, val, test)
    assert np.array_equal(test, np.flatnonzero(mask))
    assert len(val) == 40  # 25% of the 160 non-test rows
    assert np.bincount(labels[val]).tolist() == [10] * 4


def test_test_mask_errors() -> None:
    labels = np.array([0, 0, 1, 1, 2])
    only_test = np.array([False, False, False, False, True])
    with pytest.raises(DataError, match=r"classes \[2\] appear only in the predefined test set"):
        stratified_split(labels, val_fraction=0.1, test_fraction=0, seed=0, test_mask=only_test)
    with pytest.raises(DataError, match="boolean mask with one entry per row"):
        stratified_split(labels, val_fraction=0.1, test_fraction=0, seed=0, test_mask=labels)


@pytest.mark.parametrize(("val", "test"), [(-0.1, 0.1), (0.1, 1.0), (0.6, 0.5)])
def test_bad_fractions(val: float, test: float) -> None:
    with pytest.raises(ConfigError):
        stratified_split(np.array([0, 1] * 10), val_fraction=val, test_fraction=test, seed=0)


def test_subsample_allocation() -> None:
    labels = np.array([0] * 900 + [1] * 90 + [2] * 10)
    rows = stratified_subsample(labels, 100, seed=0)
    assert len(rows) == 100 and len(np.unique(rows)) == 100
    assert np.bincount(labels[rows]).tolist() == [90, 9, 1]
    rows = stratified_subsample(labels, 3, seed=0)
    assert np.bincount(labels[rows]).tolist() == [1, 1, 1]
