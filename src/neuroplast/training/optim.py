"""Optimizers and learning-rate schedules from their typed config."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from neuroplast.config import OptimizerConfig, SchedulerConfig

__all__ = ["build_optimizer", "build_scheduler", "scheduler_steps_per_batch"]


def build_optimizer(params: Iterable[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def scheduler_steps_per_batch(cfg: SchedulerConfig) -> bool:
    """Cosine and one-cycle schedules step every optimizer step; the others every epoch."""
    return cfg.name in ("cosine", "onecycle")


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: SchedulerConfig, *, total_steps: int, lr: float
) -> Any:
    """A torch scheduler, or ``None`` for ``name: none``. ``total_steps`` counts optimizer steps."""
    total_steps = max(1, total_steps)
    if cfg.name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=total_steps, eta_min=cfg.min_lr
        )
    if cfg.name == "onecycle":
        if total_steps < 4:  # too short to warm up and anneal: a constant rate
            return None
        # torch divides by the warm-up's length in steps minus one: give it at least two steps
        # (10 steps at pct_start 0.1 raised ZeroDivisionError inside OneCycleLR)
        pct_start = min(max(cfg.pct_start, 2.0 / total_steps), 1.0 - 2.0 / total_steps)
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=lr, total_steps=total_steps, pct_start=pct_start
        )
    if cfg.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=cfg.gamma, patience=cfg.patience, min_lr=cfg.min_lr
        )
    return None
