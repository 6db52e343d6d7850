"""FGSM, PGD and corruptions against hand computation on a linear model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from neuroplast.errors import ConfigError, DataError
from neuroplast.evaluation.robustness import Robustness, corrupt, fgsm, pgd

D, K = 12, 3


def _linear(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(D, K)).double()


def _batch(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, 1, 3, 4, generator=g, dtype=torch.float64) * 0.8 + 0.1
    return x, torch.arange(n) % K


def _hand_gradient_sign(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """sign(d CE / dx) = sign(W^T (softmax(Wx + b) - onehot(y))), per row, in numpy."""
    linear = model[1]
    w, b = linear.weight.detach().numpy(), linear.bias.detach().numpy()
    flat = x.reshape(len(x), -1).numpy()
    z = flat @ w.T + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(y)), y.numpy()] -= 1.0
    return np.sign(p @ w).reshape(x.shape)


def test_fgsm_steps_along_the_hand_computed_gradient_sign() -> None:
    model, (x, y) = _linear(), _batch()
    sign = _hand_gradient_sign(model, x, y)
    for eps in (0.02, 0.3):
        expected = np.clip(x.numpy() + eps * sign, 0.0, 1.0)
        np.testing.assert_allclose(fgsm(model, x, y, eps).numpy(), expected, atol=1e-12)


def test_pgd_of_one_full_step_without_random_start_is_fgsm() -> None:
    model, (x, y) = _linear(), _batch()
    one = pgd(model, x, y, 0.05, steps=1, step_size=0.05, random_start=False)
    torch.testing.assert_close(one, fgsm(model, x, y, 0.05), rtol=0, atol=1e-12)


def test_pgd_stays_in_the_epsilon_ball_and_the_box_and_hurts_more_than_fgsm() -> None:
    model, (x, y) = _linear(), _batch(64)
    x = torch.cat([x[:32] * 0 + 0.01, x[32:]])  # rows at the box edge too
    g = torch.Generator().manual_seed(0)
    adv = pgd(model, x, y, 0.1, steps=7, generator=g)
    assert float((adv - x).abs().max()) <= 0.1 + 1e-12
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    loss = nn.functional.cross_entropy
    assert loss(model(adv), y) >= loss(model(fgsm(model, x, y, 0.1)), y) - 1e-9
    again = pgd(model, x, y, 0.1, steps=7, generator=torch.Generator().manual_seed(0))
    assert torch.equal(adv, again)  # seeded


def test_epsilon_zero_gives_the_clean_accuracy() -> None:
    model = _linear().float()
    images = (np.random.default_rng(0).random((40, 1, 3, 4)) * 255).astype(np.uint8)
    labels = np.arange(40) % K
    result = Robustness(model, mean=0.5, std=0.5, epsilons=(0.0, 0.1), pgd_steps=3).evaluate(
        images, labels
    )
    with torch.no_grad():
        x = (torch.from_numpy(images).float() / 255 - 0.5) / 0.5
        clean = float((model(x).argmax(1).numpy() == labels).mean())
    assert result.clean_accuracy == pytest.approx(clean)
    assert result.accuracy("fgsm", 0.0) == result.accuracy("pgd", 0.0) == result.clean_accuracy
    assert result.accuracy("pgd", 0.1) <= result.accuracy("fgsm", 0.1) + 1 / 40
    assert {r.attack for r in result.rows} == {"clean", "fgsm", "pgd", "noise", "blur", "contrast"}


def test_corruptions_by_hand() -> None:
    g = torch.Generator().manual_seed(0)
    flat = torch.full((2, 1, 6, 6), 0.4)
    torch.testing.assert_close(corrupt(flat, "blur", 1.0, g), flat)  # blur keeps a flat image
    x = torch.rand(2, 1, 6, 6, generator=g)
    low = corrupt(x, "contrast", 0.5, g)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(low, mean + 0.5 * (x - mean))
    noisy = corrupt(x, "noise", 0.1, g)
    assert float(noisy.min()) >= 0 and float(noisy.max()) <= 1 and not torch.equal(noisy, x)
    with pytest.raises(ConfigError, match="unknown corruption 'fog'"):
        corrupt(x, "fog", 1.0, g)


def test_bad_arguments_are_clear_errors() -> None:
    model = _linear().float()
    with pytest.raises(ConfigError, match=r"outside \[0, 1\]"):
        Robustness(model, epsilons=(0.1, 2.0))
    with pytest.raises(ConfigError, match="at least 1 step"):
        pgd(model, torch.zeros(1, 1, 3, 4), torch.zeros(1, dtype=torch.long), 0.1, steps=0)
    with pytest.raises(DataError, match="uint8 images"):
        Robustness(model).evaluate(np.zeros((2, 1, 3, 4), dtype=np.float32), np.zeros(2))
