"""The DDPM noise schedule, its training loss and the DDPM / DDIM denoising steps.

Notation of Ho et al. (2020), steps indexed ``t = 0 .. T-1``: ``alpha_t = 1 - beta_t``,
``abar_t = prod_{s<=t} alpha_s``; noising is ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``.

- ``linear``: ``beta_t`` evenly from ``beta_start`` to ``beta_end`` (Ho et al.: 1e-4, 0.02).
- ``cosine``: ``abar_t = f(t + 1) / f(0)``, ``f(t) = cos(((t / T) + s) / (1 + s) * pi / 2)^2``,
  ``s = 0.008``, each ``beta_t`` clipped at 0.999 (Nichol & Dhariwal, 2021).

The DDPM step draws from the posterior ``q(x_{t-1} | x_t, x_0)`` with the network's noise;
the DDIM step (eta = 0) is deterministic, so a seed fixes the whole DDIM sample.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

__all__ = ["NoiseSchedule", "ddim_timesteps"]

COSINE_OFFSET = 0.008


class NoiseSchedule:
    """``betas``, ``alphas``, ``abar`` (float64 tensors of length ``T``) and the steps."""

    def __init__(
        self,
        timesteps: int,
        kind: Literal["linear", "cosine"] = "linear",
        *,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
    ) -> None:
        self.timesteps = timesteps
        if kind == "linear":
            betas = torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64)
        else:
            steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
            f = torch.cos((steps + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2
            abar = f / f[0]
            betas = (1 - abar[1:] / abar[:-1]).clamp(max=0.999)
        self.betas = betas
        self.alphas = 1.0 - betas
        self.abar = torch.cumprod(self.alphas, dim=0)

    def _at(self, values: Tensor, t: Tensor) -> Tensor:
        return values[t].float().view(-1, 1, 1, 1)

    def noise(self, x0: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        """``x_t`` for clean images ``x0`` at steps ``t`` (one per image) with noise ``eps``."""
        abar = self._at(self.abar, t)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * eps

    def ddpm_step(self, x: Tensor, t: int, eps: Tensor, z: Tensor | None) -> Tensor:
        """``x_{t-1}``: the posterior mean ``(x_t - beta_t / sqrt(1 - abar_t) eps) /
        sqrt(alpha_t)`` plus ``sqrt(beta~_t) z``, ``beta~_t = beta_t (1 - abar_{t-1}) /
        (1 - abar_t)`` (no noise at ``t = 0``)."""
        beta, alpha, abar = (float(v[t]) for v in (self.betas, self.alphas, self.abar))
        mean = (x - beta / math.sqrt(1 - abar) * eps) / math.sqrt(alpha)
        if t == 0 or z is None:
            return mean
        variance = beta * (1 - float(self.abar[t - 1])) / (1 - abar)
        return mean + math.sqrt(variance) * z

    def ddim_step(
        self, x: Tensor, t: int, t_prev: int, eps: Tensor, *, clip: bool = True
    ) -> Tensor:
        """``x_{t_prev}`` by DDIM with eta = 0: the predicted ``x_0`` (clipped to [-1, 1]
        when ``clip``) noised back to ``t_prev`` along the same noise (``t_prev = -1``: the
        clean image)."""
        abar = float(self.abar[t])
        x0 = (x - math.sqrt(1 - abar) * eps) / math.sqrt(abar)
        if clip:
            x0 = x0.clamp(-1.0, 1.0)
            eps = (x - math.sqrt(abar) * x0) / math.sqrt(1 - abar)
        if t_prev < 0:
            return x0
        abar_prev = float(self.abar[t_prev])
        return math.sqrt(abar_prev) * x0 + math.sqrt(1 - abar_prev) * eps


def ddim_timesteps(timesteps: int, steps: int) -> list[int]:
    """``steps`` distinct steps from ``T - 1`` down to 0, evenly spaced (rounded)."""
    steps = min(steps, timesteps)
    grid = torch.linspace(0, timesteps - 1, steps, dtype=torch.float64).round().long()
    return sorted({int(t) for t in grid}, reverse=True)
