"""Optimizers and learning-rate schedules from their typed config."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from neuroplast.config import OptimizerConfig, SchedulerConfig

__all__ = [
    "build_optimizer",
    "build_scheduler",
    "model_parameters",
    "scheduler_steps_per_batch",
]


def model_parameters(model: nn.Module) -> Iterable[nn.Parameter] | list[dict[str, Any]]:
    """The model's ``param_groups()`` when it has them (each with an ``lr_scale``, e.g.
    layer-wise learning-rate decay), else its parameters."""
    groups = getattr(model, "param_groups", None)
    return groups() if callable(groups) else model.parameters()


def _trainable(params: Iterable[nn.Parameter] | Iterable[dict[str, Any]], lr: float) -> list[Any]:
    """Trainable parameters, or groups of them whose ``lr`` is ``lr * lr_scale``."""
    items: list[Any] = list(params)
    if not items or not isinstance(items[0], dict):
        return [p for p in items if p.requires_grad]
    groups = []
    for group in items:
        kept = [p for p in group["params"] if p.requires_grad]
        if kept:
            groups.append({**group, "params": kept, "lr": lr * float(group.get("lr_scale", 1.0))})
    return groups


def build_optimizer(
    params: Iterable[nn.Parameter] | Iterable[dict[str, Any]], cfg: OptimizerConfig
) -> torch.optim.Optimizer:
    params = _trainable(params, cfg.lr)
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
        # each group warms up to its own rate (lr, or lr x lr_scale with parameter groups)
        max_lr = [float(g.get("initial_lr", g["lr"])) for g in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=max_lr, total_steps=total_steps, pct_start=pct_start
        )
    if cfg.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=cfg.gamma, patience=cfg.patience, min_lr=cfg.min_lr
        )
    return None
