"""Adaptive integrated gradients: the same integral, refined only where the error is."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from neuroplast.explain._ig import adaptive_integrated_gradients


class _Step:
    """``logit_1 = 10 * sigmoid(sharpness * (mean(x) - 0.01))``: a step at ``mean(x) = 0.01``,
    within 1 % of the path from 0 to the inputs below (the transformers' case).

    Counts the inputs it is evaluated on (forward passes, with or without gradient).
    """

    def __init__(self, sharpness: float = 20000.0) -> None:
        self.rows = 0
        self.sharpness = sharpness

    def __call__(self, embedded: Tensor, _ids: Tensor) -> Tensor:
        self.rows += embedded.size(0)
        jump = 10.0 * torch.sigmoid(self.sharpness * (embedded.mean(dim=(1, 2)) - 0.01))
        return torch.stack([torch.zeros_like(jump), jump], dim=1)


def _inputs() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    scale = torch.tensor([1.4, 1.8, 2.5])  # steps at 0.71 %, 0.56 % and 0.4 % of the paths
    embedded = scale[:, None, None] * torch.ones(3, 4, 2)
    ids, target = torch.ones(3, 4, dtype=torch.long), torch.ones(3, dtype=torch.long)
    return embedded, torch.zeros_like(embedded), ids, target


def test_a_sharp_jump_near_the_baseline_is_integrated_within_the_tolerance() -> None:
    embedded, pad, ids, target = _inputs()
    coarse, adaptive = _Step(), _Step()
    _, delta50, gap = adaptive_integrated_gradients(
        coarse, embedded, pad, ids, target, tolerance=0.05, steps=50, max_evals=50
    )
    # 50 Gauss-Legendre nodes over the whole path miss the jump
    assert (delta50.abs() / gap.abs() > 0.05).all(), delta50 / gap
    scores, delta, gap2 = adaptive_integrated_gradients(
        adaptive, embedded, pad, ids, target, tolerance=0.05, steps=50
    )
    torch.testing.assert_close(gap, gap2)
    assert gap.min() > 9.0  # f(x) - f(0) is the full jump
    assert (delta.abs() / gap.abs() <= 0.05).all(), delta / gap
    # completeness: the scores add up to f(x) - f(baseline) + delta
    torch.testing.assert_close(scores.sum(dim=1), gap + delta, atol=1e-3, rtol=1e-4)
    # symmetric inputs share the score evenly over their tokens
    torch.testing.assert_close(scores[0], torch.full((4,), float(scores[0].mean())))
    # far fewer evaluations than the 3200 uniform steps the old ladder needed per row
    assert adaptive.rows <= 3 * 300, adaptive.rows


def test_smooth_rows_stop_after_the_first_pass() -> None:
    counter = _Step(sharpness=1.0)  # smooth
    embedded = torch.ones(2, 3, 2)
    pad = torch.zeros_like(embedded)
    ids, target = torch.ones(2, 3, dtype=torch.long), torch.ones(2, dtype=torch.long)
    scores, delta, gap = adaptive_integrated_gradients(
        counter, embedded, pad, ids, target, tolerance=0.05, steps=20
    )
    assert counter.rows == 2 * 2 + 2 * 20 + 2 * 2  # gap, 20 nodes, Captum's two ends
    assert float(delta.abs().max()) < 1e-4 * float(gap.abs().min())
    assert scores.shape == (2, 3)
    assert float(scores.sum()) == pytest.approx(float(gap.sum()), rel=1e-4)
