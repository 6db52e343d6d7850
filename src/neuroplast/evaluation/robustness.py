"""Accuracy of an image classifier under adversarial attacks and common corruptions.

Every perturbation is applied to pixels in ``[0, 1]`` (the uint8 image / 255) and the result
is clipped back into ``[0, 1]``; the model sees it normalised as in training. Epsilons are
L-infinity radii in that pixel space (8/255 ~ 0.031).

- FGSM (Goodfellow et al., 2015): ``x + eps * sign(grad_x loss)``, one step.
- PGD (Madry et al., 2018): ``steps`` signed-gradient steps of ``2.5 * eps / steps`` from a
  seeded uniform start in the ball, each followed by a projection onto the eps-ball around
  ``x`` and onto the ``[0, 1]`` box.
- Corruptions: Gaussian noise (std in pixel units), Gaussian blur (std in pixels) and
  contrast (``mean + c * (x - mean)`` per image), each at three severities.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroplast.errors import ConfigError, DataError
from neuroplast.models import logits_of

__all__ = [
    "CORRUPTIONS",
    "DEFAULT_EPSILONS",
    "Robustness",
    "RobustnessResult",
    "RobustnessRow",
    "corrupt",
    "fgsm",
    "pgd",
]

DEFAULT_EPSILONS: tuple[float, ...] = (0.0, 0.01, 0.02, 0.05, 0.1)
#: corruption -> its three severities (noise: std of pixels; blur: std in pixels;
#: contrast: factor applied around the image mean)
CORRUPTIONS: dict[str, tuple[float, ...]] = {
    "noise": (0.05, 0.1, 0.2),
    "blur": (0.5, 1.0, 1.5),
    "contrast": (0.6, 0.4, 0.2),
}

PixelModel = Callable[[Tensor], Tensor]  # pixels [B, C, H, W] in [0, 1] -> logits [B, K]


def _loss_gradient(model: PixelModel, x: Tensor, y: Tensor) -> Tensor:
    """d(mean cross-entropy)/dx, with the model's own parameters untouched."""
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def fgsm(model: PixelModel, x: Tensor, y: Tensor, epsilon: float) -> Tensor:
    """One signed-gradient step of size ``epsilon``, clipped to ``[0, 1]``."""
    if epsilon == 0:
        return x.clone()
    return (x + epsilon * _loss_gradient(model, x, y).sign()).clamp(0.0, 1.0).detach()


def pgd(
    model: PixelModel,
    x: Tensor,
    y: Tensor,
    epsilon: float,
    *,
    steps: int = 10,
    step_size: float | None = None,
    random_start: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Projected gradient descent in the L-infinity ``epsilon``-ball around ``x`` and the
    ``[0, 1]`` box (``step_size`` defaults to ``2.5 * epsilon / steps``)."""
    if steps < 1:
        raise ConfigError(f"PGD needs at least 1 step, got steps={steps}")
    if epsilon == 0:
        return x.clone()
    alpha = 2.5 * epsilon / steps if step_size is None else step_size
    adv = x.clone()
    if random_start:
        noise = torch.rand(x.shape, generator=generator, dtype=x.dtype) * 2 - 1
        adv = (x + epsilon * noise).clamp(0.0, 1.0)
    for _ in range(steps):
        adv = adv + alpha * _loss_gradient(model, adv, y).sign()
        adv = torch.max(torch.min(adv, x + epsilon), x - epsilon).clamp(0.0, 1.0).detach()
    return adv


def _gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    row = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    col = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    padded = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    return F.conv2d(F.conv2d(padded, row, groups=channels), col, groups=channels)


def corrupt(x: Tensor, kind: str, severity: float, generator: torch.Generator) -> Tensor:
    """``x`` (pixels in [0, 1]) under one corruption of :data:`CORRUPTIONS`, in ``[0, 1]``."""
    if kind == "noise":
        out = x + severity * torch.randn(x.shape, generator=generator, dtype=x.dtype)
    elif kind == "blur":
        out = _gaussian_blur(x, severity)
    elif kind == "contrast":
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        out = mean + severity * (x - mean)
    else:
        raise ConfigError(f"unknown corruption {kind!r}; use one of {', '.join(CORRUPTIONS)}")
    return out.clamp(0.0, 1.0)


@dataclass(frozen=True)
class RobustnessRow:
    """Accuracy under one perturbation: ``attack`` is clean, fgsm, pgd or a corruption."""

    attack: str
    strength: float
    accuracy: float


@dataclass
class RobustnessResult:
    """The table of a :meth:`Robustness.evaluate` run."""

    samples: int
    clean_accuracy: float
    rows: list[RobustnessRow] = field(default_factory=list)
    pgd_steps: int = 10
    seed: int = 0

    def accuracy(self, attack: str, strength: float) -> float:
        for row in self.rows:
            if row.attack == attack and math.isclose(row.strength, strength):
                return row.accuracy
        raise KeyError(f"no row for {attack} at {strength}")

    def to_dict(self) -> dict[str, object]:
        return {
            "samples": self.samples,
            "clean_accuracy": self.clean_accuracy,
            "pixel_space": "[0, 1]; epsilons are L-infinity radii",
            "pgd_steps": self.pgd_steps,
            "seed": self.seed,
            "rows": [asdict(r) for r in self.rows],
        }


class Robustness:
    """``Robustness(model, mean=, std=).evaluate(uint8 images [N, C, H, W], labels)``."""

    def __init__(
        self,
        model: nn.Module,
        *,
        mean: float = 0.5,
        std: float = 0.5,
        epsilons: Sequence[float] = DEFAULT_EPSILONS,
        pgd_steps: int = 10,
        batch_size: int = 128,
        seed: int = 0,
    ) -> None:
        bad = [e for e in epsilons if not 0.0 <= e <= 1.0]
        if bad:
            raise ConfigError(f"epsilons {bad} are outside [0, 1] (pixel space)")
        self.model = model.eval()
        self.mean, self.std = mean, std
        self.epsilons = tuple(sorted(set(epsilons) | {0.0}))
        self.pgd_steps, self.batch_size, self.seed = pgd_steps, batch_size, seed

    def logits(self, pixels: Tensor) -> Tensor:
        return logits_of(self.model((pixels - self.mean) / self.std))

    def evaluate(self, images: np.ndarray, labels: np.ndarray) -> RobustnessResult:
        array, targets = np.asarray(images), np.asarray(labels, dtype=np.int64)
        if array.dtype != np.uint8 or array.ndim != 4 or len(array) != len(targets):
            raise DataError(
                f"robustness needs uint8 images [N, C, H, W] and N labels, got {array.dtype} "
                f"{array.shape} and {targets.shape}"
            )
        if not len(array):
            raise DataError("robustness needs at least one image")
        generator = torch.Generator().manual_seed(self.seed)
        hits: dict[tuple[str, float], int] = {}
        for start in range(0, len(array), self.batch_size):
            x = torch.from_numpy(array[start : start + self.batch_size]).float() / 255.0
            y = torch.from_numpy(targets[start : start + self.batch_size])
            for key, perturbed in self._perturbations(x, y, generator):
                with torch.no_grad():
                    correct = int((self.logits(perturbed).argmax(1) == y).sum())
                hits[key] = hits.get(key, 0) + correct
        n = len(array)
        rows = [RobustnessRow(a, s, hits[(a, s)] / n) for a, s in hits]
        return RobustnessResult(n, hits[("clean", 0.0)] / n, rows, self.pgd_steps, self.seed)

    def _perturbations(
        self, x: Tensor, y: Tensor, generator: torch.Generator
    ) -> list[tuple[tuple[str, float], Tensor]]:
        out: list[tuple[tuple[str, float], Tensor]] = [(("clean", 0.0), x)]
        for eps in self.epsilons:
            out.append((("fgsm", eps), fgsm(self.logits, x, y, eps)))
            adv = pgd(self.logits, x, y, eps, steps=self.pgd_steps, generator=generator)
            out.append((("pgd", eps), adv))
        for kind, severities in CORRUPTIONS.items():
            out.extend(((kind, s), corrupt(x, kind, s, generator)) for s in severities)
        return out
