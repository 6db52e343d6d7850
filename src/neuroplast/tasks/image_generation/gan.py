"""A DCGAN-style generator and discriminator for 28x28 images in [-1, 1].

Generator: latent (plus a class embedding when conditional) -> 2w x 7 x 7 -> transposed
convolutions with batch norm -> tanh. Discriminator: strided convolutions with leaky ReLU
and a linear score; conditional models add the projection term ``<embed(y), h>`` (Miyato &
Koyama's projection discriminator). Trained with the non-saturating loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroplast.tasks.image_generation.config import GANConfig

__all__ = ["DCGAN", "Discriminator", "Generator"]


class Generator(nn.Module):
    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.embed = (
            nn.Embedding(config.num_classes, config.latent_dim) if config.conditional else None
        )
        self.project = nn.Sequential(
            nn.Linear(config.latent_dim, 2 * w * 49, bias=False),
            nn.BatchNorm1d(2 * w * 49),
            nn.ReLU(),
        )
        self.net = nn.Sequential(
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.ConvTranspose2d(w, 1, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.embed is not None:
            if y is None:
                raise ValueError("a conditional generator needs the class of every image")
            z = z * self.embed(y)
        h = self.project(z).view(len(z), 2 * self.config.width, 7, 7)
        out: Tensor = self.net(h)
        return out


class Discriminator(nn.Module):
    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        w = config.width
        self.net = nn.Sequential(
            nn.Conv2d(1, w, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False),
            nn.BatchNorm2d(2 * w),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        self.score = nn.Linear(2 * w * 49, 1)
        self.embed = nn.Embedding(config.num_classes, 2 * w * 49) if config.conditional else None

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.net(x)
        out: Tensor = self.score(h).squeeze(1)
        if self.embed is not None and y is not None:
            out = out + (self.embed(y) * h).sum(1)
        return out


class DCGAN(nn.Module):
    """Both networks in one module (one state dict in the registry)."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.config = config
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)

    def d_loss(self, x: Tensor, fake: Tensor, y: Tensor | None) -> Tensor:
        """The discriminator's loss on real images ``x`` and (detached) fakes, in [-1, 1]."""
        real_score = self.discriminator(x, y)
        fake_score = self.discriminator(fake.detach(), y)
        return F.softplus(-real_score).mean() + F.softplus(fake_score).mean()

    def g_loss(self, fake: Tensor, y: Tensor | None) -> Tensor:
        """The generator's non-saturating loss ``-log D(G(z))``."""
        return F.softplus(-self.discriminator(fake, y)).mean()

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None, generator: torch.Generator) -> Tensor:
        """``n`` images in [0, 1] from latent codes drawn from N(0, I)."""
        z = torch.randn(n, self.config.latent_dim, generator=generator)
        return ((self.generator(z, y) + 1.0) / 2.0).clamp(0.0, 1.0)
