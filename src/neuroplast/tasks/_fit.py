"""One small training loop for the tasks' regression-style losses (reconstruction, forecasts).

The classification Trainer computes cross-entropy and accuracy; the tasks need a loss of
their own over tensors held in memory. This loop reads the same ``train:`` section (epochs,
batch size, optimizer, scheduler, gradient clipping, early stopping on ``val_loss`` or
``train_loss``, seed, threads), keeps the best epoch's weights, and reports each epoch as a
:class:`~neuroplast.types.ModelMetrics` (logged with the run by the caller).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from neuroplast.config import TrainConfig
from neuroplast.errors import ConfigError
from neuroplast.training.optim import build_optimizer, build_scheduler, scheduler_steps_per_batch
from neuroplast.types import ModelMetrics

__all__ = ["FitResult", "LossFn", "fit", "mean_loss"]

#: ``loss(model, batch) -> mean loss`` over one batch (a tuple of tensors).
LossFn = Callable[[nn.Module, tuple[Tensor, ...]], Tensor]
Progress = Callable[[str, int, int], None]


@dataclass
class FitResult:
    history: list[ModelMetrics]
    best_epoch: int
    seconds: float


def _batches(tensors: tuple[Tensor, ...], size: int, gen: torch.Generator | None) -> Iterator:
    n = len(tensors[0])
    order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
    for start in range(0, n, size):
        index = order[start : start + size]
        yield tuple(t[index] for t in tensors)


@torch.no_grad()
def mean_loss(model: nn.Module, loss: LossFn, tensors: tuple[Tensor, ...], size: int) -> float:
    """The mean of ``loss`` over ``tensors`` in evaluation mode (weighted by batch size)."""
    model.eval()
    total, count = 0.0, 0
    for batch in _batches(tensors, size, None):
        total += float(loss(model, batch)) * len(batch[0])
        count += len(batch[0])
    return total / max(count, 1)


def _epoch(
    model: nn.Module,
    loss: LossFn,
    train: tuple[Tensor, ...],
    cfg: TrainConfig,
    step: Callable[[], None],
    gen: torch.Generator,
    report: Callable[[int], None],
) -> float:
    model.train()
    total, count = 0.0, 0
    for done, batch in enumerate(_batches(train, cfg.batch_size, gen), start=1):
        value = loss(model, batch)
        if not torch.isfinite(value):
            raise ConfigError(
                f"the training loss became {float(value)}; lower train.optimizer.lr or check "
                "the data for extreme values"
            )
        value.backward()
        if cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        step()
        total += float(value.detach()) * len(batch[0])
        count += len(batch[0])
        report(done)
    return total / max(count, 1)


def _stepper(
    model: nn.Module, cfg: TrainConfig, steps: int
) -> tuple[torch.optim.Optimizer, Callable[[], None], Callable[[float], None]]:
    """The optimizer, what runs after each batch's backward pass, and what runs after each
    epoch (given the monitored loss, for a plateau schedule)."""
    optimizer = build_optimizer(model.parameters(), cfg.optimizer)
    per_batch = scheduler_steps_per_batch(cfg.scheduler)
    scheduler = build_scheduler(
        optimizer, cfg.scheduler, total_steps=steps * cfg.epochs, lr=cfg.optimizer.lr
    )

    def step() -> None:
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if scheduler is not None and per_batch:
            scheduler.step()

    def epoch_end(loss: float) -> None:
        if scheduler is None or per_batch:
            return
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(loss)
        else:
            scheduler.step()

    return optimizer, step, epoch_end


def fit(
    model: nn.Module,
    loss: LossFn,
    train: tuple[Tensor, ...],
    val: tuple[Tensor, ...] | None,
    cfg: TrainConfig,
    *,
    progress: Progress | None = None,
    on_epoch: Callable[[ModelMetrics], None] | None = None,
    description: str = "training",
) -> FitResult:
    """Train ``model`` in place and leave it with its best epoch's weights."""
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    gen = torch.Generator().manual_seed(cfg.seed)
    steps = -(-len(train[0]) // cfg.batch_size)
    optimizer, step, epoch_end = _stepper(model, cfg, steps)
    history: list[ModelMetrics] = []
    best, best_epoch, best_state, waited = float("inf"), 0, copy.deepcopy(model.state_dict()), 0
    started = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        t0, lr = time.perf_counter(), float(optimizer.param_groups[0]["lr"])

        def report(done: int, epoch: int = epoch) -> None:
            if progress is not None:
                progress(f"{description}: epoch {epoch}/{cfg.epochs}", done, steps)

        train_loss = _epoch(model, loss, train, cfg, step, gen, report)
        val_loss = None if val is None else mean_loss(model, loss, val, cfg.eval_batch_size)
        seconds = time.perf_counter() - t0
        metrics = ModelMetrics(
            epoch=epoch,
            train_loss=train_loss,
            val_loss=val_loss,
            learning_rate=lr,
            samples_per_sec=len(train[0]) / max(seconds, 1e-9),
            seconds=seconds,
        )
        history.append(metrics)
        if on_epoch is not None:
            on_epoch(metrics)
        watched = metrics.get(cfg.early_stopping.monitor)
        watched = train_loss if watched is None else watched
        epoch_end(watched)
        if watched < best - cfg.early_stopping.min_delta:
            best, best_epoch, waited = watched, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            waited += 1
            if cfg.early_stopping.enabled and waited >= cfg.early_stopping.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(history, best_epoch, time.perf_counter() - started)
