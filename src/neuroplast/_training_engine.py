"""TrainingEngine: the seed engine's ``train(model_id, loaders, ...)`` over the one Trainer."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset

from neuroplast._model_manager import ModelManager
from neuroplast.config import (
    EarlyStoppingConfig,
    OptimizerConfig,
    SchedulerConfig,
    TrainConfig,
    format_validation_error,
)
from neuroplast.errors import ConfigError
from neuroplast.inference.inputs import record_inputs
from neuroplast.registry import Registry, RunRecord
from neuroplast.training import Callback, MetricsRecorder, Trainer
from neuroplast.types import ModelMetrics

__all__ = ["TrainingEngine"]

logger = logging.getLogger(__name__)


def _section(cls: type[Any], raw: dict[str, Any] | None, where: str) -> Any:
    from pydantic import ValidationError

    values = dict(raw or {})
    if "type" in values and "name" not in values:  # the seed engine's spelling
        values["name"] = values.pop("type")
    try:
        return cls.model_validate(values)
    except ValidationError as e:
        known = ", ".join(cls.model_fields)
        raise ConfigError(f"{format_validation_error(e, where)} (accepted keys: {known})") from e


def _as_loader(
    data: Iterable[Any], batch_size: int, shuffle: bool, seed: int, min_length: int
) -> Iterable[Any]:
    """DataLoaders (or any iterable of batches) pass through; a Dataset gets batched:
    neuroplast's ``TextDataset`` with dynamic padding, others with PyTorch's default collate."""
    if not isinstance(data, Dataset) or isinstance(data, IterableDataset):
        return data
    from neuroplast.data import TextDataset, pad_collate

    collate = None
    if isinstance(data, TextDataset):
        collate = functools.partial(pad_collate, min_length=min_length)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        data, batch_size=batch_size, shuffle=shuffle, collate_fn=collate, generator=generator
    )


class InputRecorder(Callback):
    """Records the shape, dtype and (text models) first token id rows of the first training
    batch, so that compression, export and explanations can build inputs shaped like the
    model's own (see :func:`neuroplast.inference.inputs.record_inputs`)."""

    def __init__(self, modality: str) -> None:
        self.modality = modality
        self.spec: dict[str, Any] | None = None

    def on_train_batch_start(self, trainer: Trainer, inputs: Tensor, targets: Tensor) -> None:
        if self.spec is None:
            self.spec = record_inputs(inputs, self.modality)


class TrainingEngine:
    """Trains models the ModelManager holds, records each epoch, keeps ``training_history``."""

    def __init__(self, registry: Registry, model_manager: ModelManager) -> None:
        self.registry = registry
        self.model_manager = model_manager
        self.training_history: dict[str, list[ModelMetrics]] = {}

    def train(
        self,
        model_id: str,
        train_loader: Iterable[Any],
        val_loader: Iterable[Any] | None = None,
        num_epochs: int = 10,
        optimizer_config: dict[str, Any] | None = None,
        scheduler_config: dict[str, Any] | None = None,
        early_stopping_patience: int | None = None,
        *,
        callbacks: Iterable[Callback] = (),
        **train_options: Any,
    ) -> bool:
        """Train ``model_id`` in place, then save it as its registry version. Returns True.

        The data are DataLoaders of ``(inputs, labels)`` or datasets (a neuroplast
        ``TextDataset`` / ``ImageDataset``, a ``TensorDataset``), batched with
        ``train_options["batch_size"]`` (default 64).

        ``train_options`` are any other ``train:`` keys of a run config (``grad_clip``,
        ``accumulate_grad_batches``, ``precision``, ``seed``...). Errors raise a
        :class:`~neuroplast.errors.NeuroplastError` rather than returning False.
        """
        early = EarlyStoppingConfig(
            enabled=early_stopping_patience is not None and val_loader is not None,
            patience=early_stopping_patience or 3,
        )
        config = _train_config(
            num_epochs, optimizer_config, scheduler_config, early, dict(train_options)
        )
        model = self.model_manager.get_model(model_id)
        min_length = max(
            [1, *self.model_manager.get_loaded(model_id).meta.arch_config.get("filter_sizes", [])]
        )
        train_loader = _as_loader(train_loader, config.batch_size, True, config.seed, min_length)
        if val_loader is not None:
            val_loader = _as_loader(val_loader, config.eval_batch_size, False, 0, min_length)
        run, recorder = self._start_run(model_id, config)
        history = self.training_history[model_id]
        inputs = InputRecorder(self.model_manager.get_loaded(model_id).meta.modality)
        trainer = Trainer(
            config, callbacks=[recorder, inputs, *callbacks], checkpoint_dir=run.checkpoint_dir
        )
        try:
            trainer.fit(model, train_loader, val_loader)
            trainer.load_best_weights(model)
        except BaseException as e:
            self.registry.update_run(run.id, status="failed", error=f"{type(e).__name__}: {e}")
            raise
        summary = _summary(history, trainer.best_epoch)
        self.model_manager.save_model(
            model_id, "final", run_id=run.id, metrics=summary, inputs=inputs.spec
        )
        self.registry.complete_run(run.id)
        return True

    def _start_run(self, model_id: str, config: TrainConfig) -> tuple[RunRecord, MetricsRecorder]:
        """A registry run for training ``model_id``, and the callback that logs each epoch
        with it and in :attr:`training_history` (started afresh)."""
        run = self.registry.start_run(
            model_id.split(":")[0],
            {"api": True, "model_id": model_id, "train": config.model_dump(mode="json")},
        )
        history: list[ModelMetrics] = []
        self.training_history[model_id] = history

        def record(metrics: ModelMetrics) -> None:
            history.append(metrics)
            self.registry.log_epoch(run.id, metrics)

        return run, MetricsRecorder(record)

    def save_training_metrics(self, model_id: str, metrics: ModelMetrics) -> None:
        """Record one epoch of a loop the caller wrote by hand."""
        self.training_history.setdefault(model_id, []).append(metrics)

    _save_training_metrics = save_training_metrics


def _train_config(
    epochs: int,
    optimizer_config: dict[str, Any] | None,
    scheduler_config: dict[str, Any] | None,
    early_stopping: EarlyStoppingConfig,
    train_options: dict[str, Any],
) -> TrainConfig:
    """The seed API's arguments as a validated ``train:`` section."""
    options = {
        "epochs": epochs,
        "optimizer": _section(OptimizerConfig, optimizer_config, "optimizer_config"),
        "scheduler": _section(SchedulerConfig, scheduler_config, "scheduler_config"),
        "early_stopping": early_stopping,
        **train_options,
    }
    return _section(TrainConfig, options, "train options")


def _summary(history: list[ModelMetrics], best_epoch: int | None) -> dict[str, Any]:
    """The metrics stored with the trained version: epochs, best epoch, last losses."""
    summary: dict[str, Any] = {"epochs_trained": len(history), "best_epoch": best_epoch}
    if history:
        last = history[-1]
        summary.update(
            train_loss=last.train_loss, val_loss=last.val_loss, val_accuracy=last.val_accuracy
        )
    return summary
