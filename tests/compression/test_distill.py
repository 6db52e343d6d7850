"""The distillation loss against a hand computation, and how the callback runs the teacher."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neuroplast.compression.distill import DistillationLoss, distillation_loss
from neuroplast.errors import ConfigError

Run = Callable[..., tuple[int, str, str]]

STUDENT = [[0.5, 1.0, 0.0], [2.0, -1.0, 0.5]]
TEACHER = [[2.0, 0.0, -1.0], [0.0, 3.0, 1.0]]


def _softmax(row: list[float], t: float) -> list[float]:
    exps = [math.exp(x / t) for x in row]
    return [e / sum(exps) for e in exps]


def _by_hand(t: float, alpha: float, hard: float) -> float:
    kl = 0.0
    for s_row, t_row in zip(STUDENT, TEACHER, strict=True):
        p, q = _softmax(t_row, t), _softmax(s_row, t)
        kl += sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q, strict=True))
    return alpha * t * t * kl / len(STUDENT) + (1 - alpha) * hard


@pytest.mark.parametrize(("t", "alpha"), [(1.0, 1.0), (2.0, 0.3), (4.0, 0.7), (8.0, 0.0)])
def test_loss_matches_the_hand_computation(t: float, alpha: float) -> None:
    hard = torch.tensor(0.8125)
    got = distillation_loss(
        torch.tensor(STUDENT), torch.tensor(TEACHER), hard, temperature=t, alpha=alpha
    )
    assert float(got) == pytest.approx(_by_hand(t, alpha, 0.8125), rel=1e-5)
    # one fixed value, so a change of formula cannot hide behind a matching helper
    assert float(
        distillation_loss(
            torch.tensor(STUDENT), torch.tensor(TEACHER), hard, temperature=2.0, alpha=0.5
        )
    ) == pytest.approx(0.5 * 4 * (0.190634 + 0.738232) / 2 + 0.5 * 0.8125, rel=1e-4)


def test_soft_gradient_is_t_times_q_minus_p() -> None:
    """With the T**2 factor the soft term's gradient keeps the hard term's scale:
    d/ds T**2 KL(p || softmax(s / T)) = T * (q - p) / batch."""
    t = 4.0
    student = torch.tensor(STUDENT, requires_grad=True)
    teacher = torch.tensor(TEACHER)
    distillation_loss(student, teacher, torch.tensor(0.0), temperature=t, alpha=1.0).backward()
    q = F.softmax(student.detach() / t, dim=1)
    p = F.softmax(teacher / t, dim=1)
    assert student.grad is not None
    torch.testing.assert_close(student.grad, t * (q - p) / 2)


class _SpyTeacher(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.drop = nn.Dropout(0.9)
        self.seen: list[tuple[torch.Tensor, bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((x, self.training, torch.is_grad_enabled()))
        return self.drop(self.linear(x))


def test_callback_runs_the_teacher_in_eval_mode_on_the_students_batch() -> None:
    torch.manual_seed(0)
    student, teacher = nn.Linear(4, 3), _SpyTeacher()
    callback = DistillationLoss(student, teacher, temperature=3.0, alpha=0.6)
    assert not any(p.requires_grad for p in teacher.parameters())
    teacher.train()  # something switched it back: the callback must not use dropout
    callback.on_fit_start(None)
    inputs, targets = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    logits = student(inputs)
    hard = F.cross_entropy(logits, targets)
    loss = callback.on_loss(None, hard, inputs, targets)
    (seen, training, grad) = teacher.seen[-1]
    assert seen is inputs and not training and not grad
    with torch.no_grad():
        expected_teacher = teacher.linear(inputs)
    expected = distillation_loss(logits, expected_teacher, hard, temperature=3.0, alpha=0.6)
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    loss.backward()
    assert student.weight.grad is not None and teacher.linear.weight.grad is None
    callback.on_fit_end(None, None)
    student(inputs)
    with pytest.raises(ConfigError, match="saw no student output"):
        callback.on_loss(None, hard, inputs, targets)


def test_student_with_other_classes_is_refused() -> None:
    student = nn.Linear(4, 2)
    callback = DistillationLoss(student, nn.Linear(4, 3))
    callback.on_fit_start(None)
    inputs = torch.randn(2, 4)
    student(inputs)
    with pytest.raises(ConfigError, match="needs the teacher's classes"):
        callback.on_loss(None, torch.tensor(0.0), inputs, torch.tensor([0, 1]))


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--temperature", "0", "temperature must be > 0"),
        ("--alpha", "1.5", "must be in \\[0, 1\\]"),
    ],
)
def test_bad_temperature_or_alpha(
    trained_home: Path, run_cli: Run, option: str, value: str, message: str
) -> None:
    code, _, err = run_cli(
        "compress", "rt-small:1", "--distill-from", "rt-small:1", option, value,
        "--home", str(trained_home),
    )  # fmt: skip
    assert code != 0
    assert __import__("re").search(message, err), err
    with pytest.raises(ConfigError, match=message):
        DistillationLoss(nn.Linear(1, 1), nn.Linear(1, 1), **{option[2:]: float(value)})
