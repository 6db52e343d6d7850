"""The one training loop, on Lightning Fabric.

Everything a run can vary (optimizer, schedule, clipping, accumulation, early stopping,
checkpoints, resume, extra losses) is configuration or a callback; there is no second
loop. The hot path does no host-device synchronisation per batch: losses are summed as
tensors and read once per epoch.

Several processes (DDP) run the same loop on their share of each global batch (see
:mod:`neuroplast.training.sharding`): the epoch's losses and the validation metrics are
summed over all processes, so every process sees the metrics of the whole training and
validation sets and takes the same decisions (early stopping, best epoch); only rank 0
writes checkpoints.

An epoch's ``learning_rate`` is the mean of the rates its optimizer steps used (read before
each step, so before the scheduler moves on): constant within the epoch for ``step`` and
``plateau``, the average over the epoch's part of the curve for ``cosine`` and ``onecycle``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from neuroplast.config import TrainConfig
from neuroplast.errors import ConfigError, TrainingError
from neuroplast.models import logits_of
from neuroplast.training.callbacks import Callback, EarlyStopping
from neuroplast.training.checkpoint import TrainingState, load_checkpoint, save_checkpoint
from neuroplast.training.device import make_fabric
from neuroplast.training.optim import (
    build_optimizer,
    build_scheduler,
    model_parameters,
    scheduler_steps_per_batch,
)
from neuroplast.training.session import current_session
from neuroplast.training.sharding import shard_loader, sharded_sampler
from neuroplast.types import ModelMetrics

if TYPE_CHECKING:
    from lightning_fabric import Fabric

__all__ = ["Trainer", "logits_of"]

logger = logging.getLogger(__name__)
LAST = "last"
BEST = "best"


class Trainer:
    """Fits a classifier with cross-entropy: ``Trainer(config).fit(model, train, val)``."""

    def __init__(
        self,
        config: TrainConfig | None = None,
        *,
        callbacks: Sequence[Callback] = (),
        fabric: Fabric | None = None,
        checkpoint_dir: Path | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.config = config or TrainConfig()
        session = current_session()  # a launched multi-process Fabric, a profiler
        self.fabric = (
            fabric or session.fabric or make_fabric(self.config.accelerator, self.config.precision)
        )
        self.callbacks: list[Callback] = [*callbacks, *session.callbacks]
        es = self.config.early_stopping
        self.early_stopping: EarlyStopping | None = None
        if es.enabled:
            self.early_stopping = EarlyStopping(
                monitor=es.monitor, mode=es.mode, patience=es.patience, min_delta=es.min_delta
            )
            self.callbacks.append(self.early_stopping)
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress
        self.should_stop = False
        self.history: list[ModelMetrics] = []
        self.best_epoch: int | None = None
        self.model: nn.Module | None = None
        self.start_epoch = 1
        self.optimizer: torch.optim.Optimizer | None = None

    # ---- public -----------------------------------------------------------------------
    def fit(
        self,
        model: nn.Module,
        train_loader: DataLoader[Any] | Iterable[Any],
        val_loader: DataLoader[Any] | Iterable[Any] | None = None,
        *,
        resume_from: Path | None = None,
    ) -> list[ModelMetrics]:
        """Train ``model`` in place and return the per-epoch metrics."""
        cfg = self.config
        es = self.early_stopping
        if es is not None and val_loader is None and es.monitor.startswith("val_"):
            raise ConfigError(
                f"early_stopping.monitor={es.monitor} needs validation data: pass a val_loader, "
                "monitor train_loss, or set early_stopping.enabled=false"
            )
        if self.config.num_threads:
            torch.set_num_threads(self.config.num_threads)
        if self.fabric.world_size > 1:
            train_loader, val_loader, resume_from = self._shard(
                train_loader, val_loader, resume_from
            )
        # every process its own random stream (dropout); the weights come from rank 0
        self.fabric.seed_everything(cfg.seed + self.fabric.global_rank, verbose=False)
        optimizer = build_optimizer(model_parameters(model), cfg.optimizer)
        steps_per_epoch = math.ceil(_length(train_loader) / cfg.accumulate_grad_batches)
        scheduler = build_scheduler(
            optimizer, cfg.scheduler, total_steps=steps_per_epoch * cfg.epochs, lr=cfg.optimizer.lr
        )
        start_epoch = 1
        if resume_from is not None:
            start_epoch = self._restore(model, optimizer, scheduler, resume_from) + 1
        self.start_epoch = start_epoch
        fmodel, foptimizer = self.fabric.setup(model, optimizer)
        self.model, self.optimizer = fmodel, foptimizer
        self.should_stop = self.should_stop or start_epoch > cfg.epochs
        self._fire("on_fit_start")
        for epoch in range(start_epoch, cfg.epochs + 1):
            if self.should_stop:
                break
            metrics = self._run_epoch(epoch, fmodel, foptimizer, scheduler, train_loader)
            if val_loader is not None:
                val_loss, val_acc = self.validate(fmodel, val_loader)
                metrics.val_loss, metrics.val_accuracy = val_loss, val_acc
            if scheduler is not None and not scheduler_steps_per_batch(cfg.scheduler):
                if cfg.scheduler.name == "plateau":
                    scheduler.step(
                        metrics.val_loss if metrics.val_loss is not None else metrics.train_loss
                    )
                else:
                    scheduler.step()
            self.history.append(metrics)
            self._fire("on_epoch_end", metrics)
            if self.fabric.world_size > 1:  # rank 0's callbacks (a pruner) decide for all
                self.should_stop = bool(self.fabric.broadcast(self.should_stop, src=0))
            improved = self._is_best(metrics)
            self._checkpoint(epoch, fmodel, foptimizer, scheduler, improved)
        self._fire("on_fit_end", self.history)
        return self.history

    @torch.inference_mode()
    def validate(self, model: nn.Module, loader: Iterable[Any]) -> tuple[float, float]:
        """Mean cross-entropy and accuracy of ``model`` over ``loader``."""
        was_training = model.training
        model.eval()
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.fabric.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.fabric.device)
        count = torch.zeros((), dtype=torch.int64, device=self.fabric.device)
        for batch in loader:
            inputs, targets = self._batch(batch)
            logits = logits_of(model(inputs)).float()
            loss_sum += F.cross_entropy(logits, targets, reduction="sum").double()
            correct += (logits.argmax(dim=1) == targets).sum()
            count += targets.shape[0]
        model.train(was_training)
        if self.fabric.world_size > 1:  # each process saw its share: sum the shares
            loss_sum, correct, count = (self._sum(t) for t in (loss_sum, correct, count))
        if int(count) == 0:
            raise TrainingError("the validation data is empty; lower data.val_fraction or add rows")
        return float(loss_sum) / int(count), float(correct) / int(count)

    def load_best_weights(self, model: nn.Module) -> bool:
        """Put the best epoch's weights (by the early-stopping monitor) into ``model``."""
        if self.checkpoint_dir is None or self.best_epoch is None:
            return False
        path = self.checkpoint_dir / f"{BEST}.json"
        if not path.exists():
            return False
        model.load_state_dict(load_checkpoint(path).model)
        return True

    # ---- internals --------------------------------------------------------------------
    def _shard(
        self,
        train_loader: Iterable[Any],
        val_loader: Iterable[Any] | None,
        resume_from: Path | None,
    ) -> tuple[DataLoader[Any], DataLoader[Any] | None, Path | None]:
        """This process's share of the data, and rank 0's checkpoint to resume from."""
        import torch.distributed as dist

        if not dist.is_initialized():
            raise TrainingError(
                f"this Trainer's Fabric has {self.fabric.world_size} processes but they were "
                "not started: launch them first (neuroplast.distributed.launch, torchrun or "
                "`neuroplast train --devices N`)"
            )
        rank, world = self.fabric.global_rank, self.fabric.world_size
        train = shard_loader(train_loader, rank, world, train=True)
        val = None if val_loader is None else shard_loader(val_loader, rank, world, train=False)
        return train, val, self.fabric.broadcast(resume_from, src=0)

    def _sum(self, value: Tensor) -> Tensor:
        return cast(Tensor, self.fabric.all_reduce(value, reduce_op="sum"))  # tensor in, out

    def _batch(self, batch: Any) -> tuple[Tensor, Tensor]:
        if not isinstance(batch, list | tuple) or len(batch) < 2:
            raise TrainingError(
                "each batch must be (inputs, labels); got "
                f"{type(batch).__name__}: wrap tensors in a TensorDataset(inputs, labels)"
            )
        inputs, targets = batch[0], batch[1]
        if self.fabric.device.type != "cpu":
            inputs = inputs.to(self.fabric.device, non_blocking=True)
            targets = targets.to(self.fabric.device, non_blocking=True)
        return inputs, targets.long()

    def _overriding(self, hook: str) -> list[Callback]:
        """The callbacks that implement ``hook`` (the loop calls only those, per batch)."""
        return [
            cb for cb in self.callbacks if getattr(type(cb), hook) is not getattr(Callback, hook)
        ]

    def _step(
        self,
        epoch: int,
        index: int,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        backward_hooks: list[Callback],
    ) -> float:
        """One optimizer step on the accumulated gradients (clipped when asked); its
        learning rate."""
        for cb in backward_hooks:
            cb.on_after_backward(self)
        if self.config.grad_clip is not None:
            try:
                self.fabric.clip_gradients(model, optimizer, max_norm=self.config.grad_clip)
            except RuntimeError as e:
                raise TrainingError(
                    f"training diverged at epoch {epoch}, batch {index}: the gradients "
                    "are not finite; lower train.optimizer.lr"
                ) from e
        rate = float(optimizer.param_groups[0]["lr"])
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return rate

    def _run_epoch(
        self,
        epoch: int,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        loader: Iterable[Any],
    ) -> ModelMetrics:
        accumulate = self.config.accumulate_grad_batches
        per_batch_schedule = scheduler is not None and scheduler_steps_per_batch(
            self.config.scheduler
        )
        loss_hooks = self._overriding("on_loss")
        batch_hooks = self._overriding("on_train_batch_start")
        backward_hooks = self._overriding("on_after_backward")
        _set_epoch(loader, epoch)
        self._fire("on_epoch_start", epoch)
        model.train()
        total = _length(loader)
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.fabric.device)
        seen = torch.zeros((), dtype=torch.int64, device=self.fabric.device)
        shard = sharded_sampler(loader)
        step_rates: list[float] = []  # the rate of each optimizer step (a float: no sync)
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        for index, batch in enumerate(loader, start=1):
            inputs, targets = self._batch(batch)
            for cb in batch_hooks:
                cb.on_train_batch_start(self, inputs, targets)
            loss = F.cross_entropy(logits_of(model(inputs)), targets)
            for cb in loss_hooks:
                loss = cb.on_loss(self, loss, inputs, targets)
            # one of several processes: weigh its mean so that DDP's average of the
            # gradients is the gradient of the global batch's mean loss
            scale = 1.0 if shard is None else shard.loss_scale
            weighted = shard is not None or accumulate > 1
            self.fabric.backward(loss * (scale / accumulate) if weighted else loss)
            batch_size = int(targets.shape[0]) if shard is None else shard.rows
            loss_sum += loss.detach().double() * batch_size
            seen += batch_size
            if index % accumulate == 0 or index == total:
                step_rates.append(self._step(epoch, index, model, optimizer, backward_hooks))
                if per_batch_schedule:
                    scheduler.step()
            if self.progress is not None:
                self.progress("train", index, total)
        seconds = time.perf_counter() - started
        if shard is not None:  # the epoch's loss over the whole training set
            loss_sum, seen = self._sum(loss_sum), self._sum(seen)
        return _epoch_metrics(epoch, float(loss_sum), int(seen), step_rates, seconds)

    def _is_best(self, metrics: ModelMetrics) -> bool:
        """Whether this epoch is the best so far (after the callbacks saw its metrics)."""
        es = self.early_stopping
        if es is not None:
            better = es.best_epoch == metrics.epoch
        else:
            monitor = "val_loss" if metrics.val_loss is not None else "train_loss"
            value = metrics.get(monitor)
            best = (
                None if self.best_epoch is None else self.history[self.best_epoch - 1].get(monitor)
            )
            better = value is not None and (best is None or value < best)
        if better:
            self.best_epoch = metrics.epoch
        return better

    def _checkpoint(
        self,
        epoch: int,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        improved: bool,
    ) -> None:
        if self.checkpoint_dir is None or not self.fabric.is_global_zero:
            return
        periodic = epoch % self.config.checkpoint_every == 0 or epoch == self.config.epochs
        if not (improved or periodic or self.should_stop):
            return
        state = TrainingState(
            epoch=epoch,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            scheduler=None if scheduler is None else scheduler.state_dict(),
            callbacks={type(cb).__name__: cb.state_dict() for cb in self.callbacks},
            rng=torch.get_rng_state(),
            history=[m.to_dict() for m in self.history],
        )
        if improved:
            save_checkpoint(self.checkpoint_dir, BEST, state)
        if periodic or self.should_stop:
            save_checkpoint(self.checkpoint_dir, LAST, state)

    def _restore(
        self, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, path: Path
    ) -> int:
        state = load_checkpoint(path)
        model.load_state_dict(state.model)
        optimizer.load_state_dict(state.optimizer)
        if scheduler is not None and state.scheduler is not None:
            scheduler.load_state_dict(state.scheduler)
        for cb in self.callbacks:
            if type(cb).__name__ in state.callbacks:
                cb.load_state_dict(state.callbacks[type(cb).__name__])
        if state.rng is not None and self.fabric.global_rank == 0:  # rank 0's stream
            torch.set_rng_state(state.rng)
        self.history = [ModelMetrics(**m) for m in state.history]
        if self.early_stopping is not None and self.early_stopping.best_epoch:
            self.best_epoch = self.early_stopping.best_epoch
        elif self.early_stopping is None:
            for past in self.history:  # the best epoch, as _is_best chose it at the time
                self._is_best(past)
        if (
            self.early_stopping is not None
            and self.early_stopping.wait >= self.early_stopping.patience
        ):
            self.should_stop = True
        logger.info("resumed from %s after epoch %d", path, state.epoch)
        return state.epoch

    def _fire(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)


def _length(loader: Iterable[Any]) -> int:
    try:
        return len(loader)  # type: ignore[arg-type]
    except TypeError as e:
        raise TrainingError("the training data must have a length (a DataLoader or a list)") from e


def _set_epoch(loader: Iterable[Any], epoch: int) -> None:
    """Tell the loader's samplers the epoch: the batch order depends on (seed, epoch) only."""
    samplers: list[Any] = [getattr(loader, "batch_sampler", None), getattr(loader, "sampler", None)]
    for sampler in samplers:
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)


def _epoch_metrics(
    epoch: int, loss_sum: float, seen: int, step_rates: list[float], seconds: float
) -> ModelMetrics:
    """The epoch's mean training loss (a clear error when there was no data or it is not
    finite), mean learning rate and speed."""
    if seen == 0:
        raise TrainingError("the training data is empty: nothing to train on")
    train_loss = loss_sum / seen
    if not math.isfinite(train_loss):
        raise TrainingError(
            f"training diverged at epoch {epoch} (loss {train_loss}); lower "
            "train.optimizer.lr or set train.grad_clip"
        )
    return ModelMetrics(
        epoch=epoch,
        train_loss=train_loss,
        learning_rate=math.fsum(step_rates) / len(step_rates),
        samples_per_sec=seen / seconds if seconds > 0 else None,
        seconds=seconds,
    )
