"""A small U-Net that predicts the noise of a 28x28 image at a diffusion step.

Three resolutions (28, 14, 7) with ``width``, ``2 width`` and ``2 width`` channels, one
residual block per level on the way down and up, two in the middle, skip connections by
concatenation; the step enters every block through a sinusoidal embedding and an MLP, and
the class (when conditional) through an embedding added to it. The class index
``num_classes`` is the "no class" token of classifier-free guidance.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroplast.tasks.image_generation.config import DDPMConfig
from neuroplast.tasks.image_generation.diffusion import NoiseSchedule, ddim_timesteps

__all__ = ["DDPMUNet", "sinusoidal_embedding"]


def sinusoidal_embedding(t: Tensor, dim: int) -> Tensor:
    """``[sin(t w_i), cos(t w_i)]`` with ``w_i = 10000^(-i / (dim / 2))``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, channels), channels)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb, c_out)
        self.norm2, self.conv2 = _norm(c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.emb(emb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        out: Tensor = h + self.skip(x)
        return out


class DDPMUNet(nn.Module):
    """``forward(x_t, t, y) -> predicted noise``; :meth:`loss` and :meth:`sample`."""

    def __init__(self, config: DDPMConfig) -> None:
        super().__init__()
        self.config = config
        w, emb = config.width, 4 * config.width
        self.schedule = NoiseSchedule(
            config.timesteps,
            config.schedule,
            beta_start=config.beta_start,
            beta_end=config.beta_end,
        )
        self.time = nn.Sequential(nn.Linear(w, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.label = nn.Embedding(config.num_classes + 1, emb) if config.conditional else None
        self.inp = nn.Conv2d(1, w, 3, padding=1)
        self.down1, self.pool1 = ResBlock(w, w, emb), nn.Conv2d(w, w, 3, 2, 1)
        self.down2, self.pool2 = ResBlock(w, 2 * w, emb), nn.Conv2d(2 * w, 2 * w, 3, 2, 1)
        self.mid1, self.mid2 = ResBlock(2 * w, 2 * w, emb), ResBlock(2 * w, 2 * w, emb)
        self.up2, self.dec2 = nn.Conv2d(2 * w, 2 * w, 3, padding=1), ResBlock(4 * w, 2 * w, emb)
        self.up1, self.dec1 = nn.Conv2d(2 * w, w, 3, padding=1), ResBlock(2 * w, w, emb)
        self.out = nn.Sequential(_norm(w), nn.SiLU(), nn.Conv2d(w, 1, 3, padding=1))

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        emb = self.time(sinusoidal_embedding(t, self.config.width))
        if self.label is not None:
            null = torch.full_like(t, self.config.num_classes)
            emb = emb + self.label(null if y is None else y)
        h1 = self.down1(self.inp(x), emb)
        h2 = self.down2(self.pool1(h1), emb)
        h = self.mid2(self.mid1(self.pool2(h2), emb), emb)
        h = self.dec2(torch.cat([self.up2(F.interpolate(h, scale_factor=2.0)), h2], 1), emb)
        h = self.dec1(torch.cat([self.up1(F.interpolate(h, scale_factor=2.0)), h1], 1), emb)
        out: Tensor = self.out(h)
        return out

    def loss(self, x01: Tensor, y: Tensor | None = None) -> Tensor:
        """The DDPM loss ``|eps - eps_theta(x_t, t)|^2`` (mean) on images in [0, 1]; with
        ``p_uncond`` of the labels replaced by the "no class" token when conditional."""
        x0 = x01 * 2.0 - 1.0
        t = torch.randint(0, self.config.timesteps, (len(x0),))
        eps = torch.randn_like(x0)
        if self.label is not None and y is not None:
            drop = torch.rand(len(y)) < self.config.p_uncond
            y = torch.where(drop, torch.full_like(y, self.config.num_classes), y)
        return F.mse_loss(self(self.schedule.noise(x0, t, eps), t, y), eps)

    def _eps(self, x: Tensor, t: int, y: Tensor | None, guidance: float) -> Tensor:
        steps = torch.full((len(x),), t, dtype=torch.long)
        if y is None or self.label is None or guidance == 0.0:
            eps: Tensor = self(x, steps, y)
            return eps
        both = self(
            torch.cat([x, x]),
            torch.cat([steps, steps]),
            torch.cat([y, torch.full_like(y, self.config.num_classes)]),
        )
        cond, uncond = both.chunk(2)
        return (1.0 + guidance) * cond - guidance * uncond

    @torch.no_grad()
    def sample(
        self,
        n: int,
        y: Tensor | None,
        generator: torch.Generator,
        *,
        steps: int = 50,
        guidance: float = 0.0,
    ) -> Tensor:
        """``n`` images in [0, 1] by DDIM (eta = 0) over ``steps`` steps; with a class and
        ``guidance`` w > 0, the noise is ``(1 + w) eps(x, y) - w eps(x, no class)``."""
        x = torch.randn(n, 1, 28, 28, generator=generator)
        grid = ddim_timesteps(self.config.timesteps, steps)
        for index, t in enumerate(grid):
            t_prev = grid[index + 1] if index + 1 < len(grid) else -1
            x = self.schedule.ddim_step(x, t, t_prev, self._eps(x, t, y, guidance))
        return ((x + 1.0) / 2.0).clamp(0.0, 1.0)
