"""ACC, BWT, FWT and forgetting against hand-computed values."""

from __future__ import annotations

import pytest

from neuroplast.continual import compute_metrics
from neuroplast.errors import DataError

R = [
    [0.9, 0.1, 0.2],
    [0.6, 0.8, 0.3],
    [0.5, 0.7, 0.9],
]
B = [0.1, 0.2, 0.25]


def test_metrics_of_a_hand_computed_matrix() -> None:
    m = compute_metrics(R, B)
    assert m.acc == pytest.approx((0.5 + 0.7 + 0.9) / 3)  # 0.7
    assert m.bwt == pytest.approx(((0.5 - 0.9) + (0.7 - 0.8)) / 2)  # -0.25
    assert m.fwt == pytest.approx(((0.1 - 0.2) + (0.3 - 0.25)) / 2)  # -0.025
    assert m.forgetting == pytest.approx(((0.9 - 0.5) + (0.8 - 0.7)) / 2)  # 0.25
    assert m.matrix == R and m.random_init == B


def test_forgetting_uses_the_best_earlier_accuracy_not_the_first() -> None:
    r = [[0.5, 0.0], [0.9, 0.9]]  # task 1 improved after task 2: negative forgetting
    m = compute_metrics(r)
    assert m.forgetting == pytest.approx(0.5 - 0.9)
    assert m.bwt == pytest.approx(0.4)
    assert m.fwt is None  # no random-init accuracies given


def test_one_task_has_accuracy_only() -> None:
    m = compute_metrics([[0.75]], [0.5])
    assert (m.acc, m.bwt, m.fwt, m.forgetting) == (0.75, None, None, None)


@pytest.mark.parametrize(
    ("matrix", "init", "match"),
    [
        ([[0.5, 0.5]], None, "square"),
        ([[0.5, 1.5], [0.1, 0.2]], None, "between 0 and 1"),
        ([[0.5, 0.5], [0.1, 0.2]], [0.1], "one accuracy per task"),
    ],
)
def test_bad_matrices_are_rejected(matrix: list, init: list | None, match: str) -> None:
    with pytest.raises(DataError, match=match):
        compute_metrics(matrix, init)
