"""One trial: a run config with sampled values, trained on the one training loop.

Each trial is a run in the registry (its config carries ``tuning: {study, trial}`` and its
per-epoch metrics are logged as for ``neuroplast train``); no version is written for a
trial: the study's best is registered once at the end (see :mod:`neuroplast.tuning.study`).
Pruning is a :class:`~neuroplast.training.Callback` that reports each epoch's metric to
Optuna and raises ``optuna.TrialPruned`` when the pruner says so.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import torch

from neuroplast.config import RunConfig
from neuroplast.data.prepare import PreparedData, prepare
from neuroplast.errors import ConfigError
from neuroplast.models import create_model, get_spec
from neuroplast.models.pretrained import init_embedding, pretrained_dim
from neuroplast.registry import Registry
from neuroplast.training import Callback, MetricsRecorder, Trainer
from neuroplast.tuning.space import SearchSpace, apply_params
from neuroplast.types import ModelMetrics
from neuroplast.workflows import complete_arch_config

if TYPE_CHECKING:
    import optuna

__all__ = ["METRICS", "PruningCallback", "TrialRunner", "direction_of", "fit_config"]

logger = logging.getLogger(__name__)

#: The per-epoch metrics a study can optimise, and whether higher is better.
METRICS = {"val_accuracy": "maximize", "val_loss": "minimize", "train_loss": "minimize"}


def direction_of(metric: str) -> str:
    """``maximize`` or ``minimize`` for ``metric`` (:class:`ConfigError` for unknown ones)."""
    if metric not in METRICS:
        raise ConfigError(
            f"--metric {metric!r} is not a per-epoch metric of the training loop; "
            f"use one of {', '.join(METRICS)}"
        )
    return METRICS[metric]


#: The first epoch a pruner may stop a trial after (epoch 1's value is too noisy): the median
#: pruner's warm-up and Hyperband's smallest resource.
FIRST_PRUNABLE_EPOCH = 2


class PruningCallback(Callback):
    """Reports ``metric`` after each epoch; raises ``optuna.TrialPruned`` to stop the trial.

    The pruner is asked only after epochs ``FIRST_PRUNABLE_EPOCH`` to ``last_epoch - 1``: it
    never stops a trial before, and stopping after the last epoch would save nothing (the
    trial then counts as completed, with its value). Each question reads the study's trials
    from the storage, the largest cost a trial adds to its training.
    """

    def __init__(self, trial: optuna.Trial, metric: str, last_epoch: int | None = None) -> None:
        self.trial, self.metric, self.last_epoch = trial, metric, last_epoch
        self.pruned_at: int | None = None

    def on_epoch_end(self, trainer: Trainer, metrics: ModelMetrics) -> None:
        import optuna

        value = metrics.get(self.metric)
        if value is None:
            raise ConfigError(
                f"--metric {self.metric}: the run has no such metric after epoch "
                f"{metrics.epoch} (no validation split?); use train_loss or add validation data"
            )
        self.trial.report(value, metrics.epoch)
        if metrics.epoch < FIRST_PRUNABLE_EPOCH or (
            self.last_epoch is not None and metrics.epoch >= self.last_epoch
        ):
            return
        if self.trial.should_prune():
            self.pruned_at = metrics.epoch
            raise optuna.TrialPruned(
                f"pruned after epoch {metrics.epoch}: {self.metric}={value:.4f}"
            )


def _data_key(config: RunConfig) -> str:
    own = getattr(get_spec(config.architecture).model_cls, "input_vocabulary", None) is not None
    return json.dumps([config.data.model_dump(mode="json"), own], sort_keys=True)


class DataCache:
    """The prepared data of the last data config: trials share a split and a vocabulary."""

    def __init__(self) -> None:
        self.key: str | None = None
        self.data: PreparedData | None = None

    def get(self, config: RunConfig) -> PreparedData:
        key = _data_key(config)
        if self.data is None or key != self.key:
            own = getattr(get_spec(config.architecture).model_cls, "input_vocabulary", None)
            self.data = prepare(config.data, vocab=own() if own else None)
            self.key = key
        return self.data


def fit_config(
    config: RunConfig, data: PreparedData, callbacks: list[Callback]
) -> tuple[list[ModelMetrics], int | None]:
    """Train ``config``'s model on ``data`` (no checkpoints, nothing registered): the
    per-epoch history and the epoch whose weights the loop would keep."""
    options = dict(config.arch_options)
    if config.pretrained_embeddings is not None:
        options.setdefault("embedding_dim", pretrained_dim(config.pretrained_embeddings))
    arch_config = complete_arch_config(config.architecture, options, data)
    torch.manual_seed(config.train.seed)
    model = create_model(config.architecture, arch_config)
    if config.pretrained_embeddings is not None and data.vocab is not None:
        init_embedding(model, config.pretrained_embeddings, data.vocab.tokens)
    min_length = max([1, *arch_config.get("filter_sizes", [])])
    train = data.loader(
        "train",
        batch_size=config.train.batch_size,
        shuffle=True,
        seed=config.train.seed,
        min_length=min_length,
    )
    val = data.loader(
        "val", batch_size=config.train.eval_batch_size, shuffle=False, min_length=min_length
    )
    trainer = Trainer(config.train, callbacks=callbacks)
    history = trainer.fit(model, train, val)
    return history, trainer.best_epoch


def objective_value(history: list[ModelMetrics], best_epoch: int | None, metric: str) -> float:
    """``metric`` at the epoch whose weights are kept (the last one without a best)."""
    row = history[best_epoch - 1] if best_epoch else history[-1]
    value = row.get(metric)
    if value is None:
        raise ConfigError(f"--metric {metric}: the run recorded no such metric")
    return value


class TrialRunner:
    """The Optuna objective: ``study.optimize(TrialRunner(...))``."""

    def __init__(
        self, registry: Registry, base: RunConfig, space: SearchSpace, metric: str, study: str
    ) -> None:
        self.registry, self.base, self.space = registry, base, space
        self.metric, self.study = metric, study
        self.cache = DataCache()

    def __call__(self, trial: optuna.Trial) -> float:
        import optuna

        config = apply_params(self.base, self.space.suggest(trial), where=f"trial {trial.number}")
        data = self.cache.get(config)
        run_config = {
            **config.model_dump(mode="json"),
            "tuning": {"study": self.study, "trial": trial.number},
        }
        run = self.registry.start_run(config.name, run_config)
        # one attribute (each is a write): the run, and the process that runs the trial
        trial.set_user_attr("run", {"uid": run.uid, "id": run.id, "worker_pid": os.getpid()})
        pruner = PruningCallback(trial, self.metric, last_epoch=config.train.epochs)
        recorder = MetricsRecorder(lambda m: self.registry.log_epoch(run.id, m))
        with self.registry.heartbeat(run.id):
            try:
                history, best_epoch = fit_config(config, data, [recorder, pruner])
            except optuna.TrialPruned as e:
                self.registry.update_run(
                    run.id, status="pruned", error=str(e), finished_at=datetime.now(UTC)
                )
                raise
            except BaseException as e:
                self.registry.update_run(run.id, status="failed", error=f"{type(e).__name__}: {e}")
                raise
        value = objective_value(history, best_epoch, self.metric)
        self.registry.update_run(run.id, status="completed")
        return value


def trial_run(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """``{uid, id, worker_pid}`` of the registry run of ``trial`` (empty before it starts)."""
    value = trial.user_attrs.get("run")
    return value if isinstance(value, dict) else {}


def trial_summary(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """One trial as JSON: number, state, value, params, run, epochs reached."""
    run = trial_run(trial)
    return {
        "number": trial.number,
        "state": trial.state.name.lower(),
        "value": trial.value,
        "params": trial.params,
        "run": run.get("uid"),
        "run_id": run.get("id"),
        "epochs": len(trial.intermediate_values),
        "seconds": _seconds(trial),
    }


def _seconds(trial: optuna.trial.FrozenTrial) -> float | None:
    """How long the trial ran (start to end as Optuna recorded them; None while running).
    Studies from before this measure have it as the user attribute ``train_seconds``."""
    recorded = trial.user_attrs.get("train_seconds")
    if recorded is not None:
        return float(recorded)
    duration = trial.duration
    return None if duration is None else round(duration.total_seconds(), 3)
