"""Train a model from a run config and record everything in the registry.

Nothing is written to the registry before the data and the config have been validated,
so bad input never leaves a half-made entry behind; a failed run is marked ``failed``
with its error, and an interrupted one can be continued with ``resume=True``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from neuroplast.config import RunConfig
from neuroplast.data.prepare import PreparedData, prepare
from neuroplast.errors import ConfigError, TrainingError
from neuroplast.evaluation import EvalResult, tfidf_baseline
from neuroplast.inference.bundle import ModelMeta
from neuroplast.models import create_model, get_spec
from neuroplast.models.pretrained import init_embedding, pretrained_dim
from neuroplast.registry import Registry, RunRecord, VersionRecord
from neuroplast.registry.maintenance import discard_run_drafts
from neuroplast.training import Callback, MetricsRecorder, Trainer
from neuroplast.training.loggers import (
    TrackingCallback,
    TrackingTarget,
    check_loggers,
    flatten_params,
    make_tracking,
)
from neuroplast.types import ModelMetrics, TaskType
from neuroplast.workflows.register import (
    bundle_preprocessing,
    marking_failures,
    reserve_version,
)
from neuroplast.workflows.report import EvaluationReport, evaluate_and_record

__all__ = ["TrainOutcome", "complete_arch_config", "train_from_config"]

logger = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


@dataclass
class TrainOutcome:
    version: VersionRecord
    run: RunRecord
    history: list[ModelMetrics]
    test: EvalResult
    baseline: EvalResult | None
    baseline_seconds: float | None
    train_seconds: float
    plots: dict[str, Path] = field(default_factory=dict)
    resumed_from_epoch: int = 0
    tracking: dict[str, str] = field(default_factory=dict)  # train.loggers name -> location


def complete_arch_config(
    architecture: str, options: dict[str, Any], data: PreparedData
) -> dict[str, Any]:
    """The architecture's options plus what the data decides (vocabulary, classes, image shape)."""
    spec = get_spec(architecture)
    if spec.modality != data.modality:
        raise ConfigError(
            f"model.architecture={architecture} takes {spec.modality} inputs but the data "
            f"({data.raw.source}) holds {data.modality}s; pick a {data.modality} architecture "
            f"(neuroplast init --help)"
        )
    derived: dict[str, Any] = {"num_classes": len(data.label_names)}
    if data.vocab is not None:
        derived["vocab_size"] = len(data.vocab)
    if data.modality == "image":
        c, h, w = data.image_shape()
        if h != w:
            raise ConfigError(f"{data.raw.source}: images are {h}x{w}; resize them to a square")
        derived.update(image_size=h, in_channels=c)
    for key, value in derived.items():
        if key in options and options[key] != value:
            raise ConfigError(
                f"model.{key}={options[key]} but the data gives {value}; remove model.{key} "
                "from the config (it is set from the data)"
            )
    return {**options, **derived}


def _min_length(arch_config: dict[str, Any]) -> int:
    return max([1, *arch_config.get("filter_sizes", [])])


def _task(config: RunConfig, modality: str) -> str:
    if config.task is not None and not config.task.is_classification:
        raise ConfigError(
            f"task={config.task.value} is trained by neuroplast.tasks (neuroplast train "
            "dispatches it there), not by the classification workflow"
        )
    if config.task is not None and config.task is not TaskType.CLASSIFICATION:
        if config.task.modality != modality:
            raise ConfigError(f"task={config.task.value} does not fit {modality} data")
        return config.task.value
    default = TaskType.TEXT_CLASSIFICATION if modality == "text" else TaskType.IMAGE_CLASSIFICATION
    return default.value


def _resume_point(registry: Registry, config: dict[str, Any]) -> tuple[RunRecord, Path | None]:
    """Take over the newest unfinished run of this config: interrupted, failed, or still
    marked running by a process that died (its lease expired), also one killed while it
    registered its version (its checkpoints hold every epoch: it only registers again)."""
    run = registry.latest_interrupted_run(config)
    if run is None:
        raise TrainingError(
            "--resume: no interrupted run of this exact config exists in "
            f"{registry.home}; run without --resume to start a new one"
        )
    alive = registry.claim_run(run.id)
    if alive is not None:
        raise TrainingError(
            f"--resume: run {run.uid} of this config is still running ({alive}); wait for it "
            "to finish, or stop it and resume once its lease has expired"
        )
    for ref in discard_run_drafts(registry, run.id):  # its registration died with it
        logger.info("discarded %s, the unfinished registration of run %s", ref, run.uid)
    checkpoint = run.checkpoint_dir / "last.json"
    return run, checkpoint if checkpoint.exists() else None


def _tracking(
    config: RunConfig, registry: Registry, run: RunRecord, config_dict: dict[str, Any]
) -> TrackingCallback | None:
    """The callback of ``train.loggers`` (None without loggers). It stays open after the fit
    so that the registered version is recorded with the run."""
    train = config.train
    if not train.loggers:
        return None
    root = Path(train.log_dir).expanduser() if train.log_dir else registry.home / "logs"
    target = TrackingTarget(
        root=root, experiment=config.name, run_name=run.uid, mlflow_uri=train.mlflow_uri
    )
    return make_tracking(
        train.loggers, target, params=flatten_params(config_dict), close_at_fit_end=False
    )


def _build_model(config: RunConfig, data: PreparedData) -> tuple[nn.Module, dict[str, Any]]:
    """The untrained model (seeded) and its complete architecture config."""
    options = dict(config.arch_options)
    if config.pretrained_embeddings is not None:
        options.setdefault("embedding_dim", pretrained_dim(config.pretrained_embeddings))
    arch_config = complete_arch_config(config.architecture, options, data)
    torch.manual_seed(config.train.seed)  # the initial weights depend on the seed alone
    model = create_model(config.architecture, arch_config)
    if config.pretrained_embeddings is not None and data.vocab is not None:
        init_embedding(model, config.pretrained_embeddings, data.vocab.tokens)
    return model, arch_config


def _baseline(config: RunConfig, data: PreparedData) -> tuple[EvalResult | None, float | None]:
    """The TF-IDF baseline on the test split (text data with ``evaluation.baseline`` only)."""
    if data.modality != "text" or not config.evaluation.baseline:
        return None, None
    return tfidf_baseline(
        data.texts("train"),
        data.labels("train"),
        data.texts("test"),
        data.labels("test"),
        data.label_names,
        seed=config.data.seed,
    )


def _meta(config: RunConfig, data: PreparedData, arch_config: dict[str, Any]) -> ModelMeta:
    """``model.json`` of the trained model (its version number comes with the draft)."""
    return ModelMeta(
        architecture=config.architecture,
        modality=data.modality,
        task=_task(config, data.modality),
        arch_config=arch_config,
        label_names=data.label_names,
        preprocessing=bundle_preprocessing(
            data.modality,
            max_length=data.max_length,
            min_length=_min_length(arch_config),
            image_shape=data.image_shape() if data.modality == "image" else None,
        ),
        data=config.data.model_dump(mode="json"),
        name=config.name,
    )


def _trainer(
    config: RunConfig,
    registry: Registry,
    run: RunRecord,
    callbacks: list[Callback],
    progress: Progress | None,
) -> Trainer:
    """The trainer of the run, checkpointing into the run's folder; the run records its
    device and precision."""
    trainer = Trainer(
        config.train, callbacks=callbacks, checkpoint_dir=run.checkpoint_dir, progress=progress
    )
    registry.update_run(
        run.id,
        device=str(trainer.fabric.device),
        precision=str(trainer.fabric._precision.precision),
    )
    return trainer


@dataclass
class _Registered:
    version: VersionRecord
    report: EvaluationReport
    baseline: EvalResult | None
    baseline_seconds: float | None


def _register(
    registry: Registry,
    config: RunConfig,
    data: PreparedData,
    *,
    model: nn.Module,
    trainer: Trainer,
    history: list[ModelMetrics],
    run: RunRecord,
    arch_config: dict[str, Any],
    train_seconds: float,
) -> _Registered:
    """Write the trained model as a draft version, evaluate it on the test split (the
    evaluation is recorded against the draft) and finalize the version with the summary."""
    min_length = _min_length(arch_config)
    meta = _meta(config, data, arch_config)
    draft = reserve_version(registry, meta, config=config.model_dump(mode="json"), run_id=run.id)
    draft.save_model(model, data.vocab)
    test_loader = data.loader(
        "test", batch_size=config.train.eval_batch_size, shuffle=False, min_length=min_length
    )
    baseline, baseline_seconds = _baseline(config, data)
    report = evaluate_and_record(
        registry,
        draft.record,
        model,
        test_loader,
        data.label_names,
        split="test",
        data_source=data.raw.source,
        baseline=baseline,
        history=history,
        device=trainer.fabric.device,
    )
    summary = {
        "best_epoch": trainer.best_epoch,
        "epochs_trained": len(history),
        "train_seconds": round(train_seconds, 2),
        **{f"test_{k}": v for k, v in report.result.headline().items()},
    }
    if baseline is not None:
        summary["baseline_test_accuracy"] = baseline.accuracy
        summary["baseline_test_f1_macro"] = baseline.f1_macro
    for p, sha in report.plot_files:
        draft.files[f"plots/{p.name}"] = (p, sha)
    version = draft.finalize(model, metrics=summary)
    return _Registered(version, report, baseline, baseline_seconds)


def _open_run(
    registry: Registry, name: str, config_dict: dict[str, Any], *, resume: bool
) -> tuple[RunRecord, Path | None]:
    """A new run, or with ``resume`` the interrupted one and the checkpoint to resume from."""
    registry.check_kind(name, config_dict.get("task"))
    if resume:
        return _resume_point(registry, config_dict)
    return registry.start_run(name, config_dict), None


def _loaders(
    config: RunConfig, data: PreparedData, min_length: int
) -> tuple[DataLoader[Any], DataLoader[Any]]:
    """The training loader (shuffled by the run's seed) and the validation loader."""
    train_loader = data.loader(
        "train",
        batch_size=config.train.batch_size,
        shuffle=True,
        seed=config.train.seed,
        min_length=min_length,
    )
    val_loader = data.loader(
        "val", batch_size=config.train.eval_batch_size, shuffle=False, min_length=min_length
    )
    return train_loader, val_loader


def _recorder(
    registry: Registry, run: RunRecord, on_epoch: Callable[[ModelMetrics], None] | None
) -> MetricsRecorder:
    """The callback that logs each epoch's metrics with the run (and hands them to
    ``on_epoch``)."""

    def record(metrics: ModelMetrics) -> None:
        registry.log_epoch(run.id, metrics)
        if on_epoch is not None:
            on_epoch(metrics)

    return MetricsRecorder(record)


def train_from_config(
    config: RunConfig,
    registry: Registry,
    *,
    resume: bool = False,
    progress: Progress | None = None,
    on_epoch: Callable[[ModelMetrics], None] | None = None,
) -> TrainOutcome:
    """Load data, build the model, train, evaluate on the test split, register the version.

    With ``train.loggers`` the run is also tracked (CSV / TensorBoard / MLflow, see
    :mod:`neuroplast.training.loggers`); the outcome's ``tracking`` says where it went.
    """
    check_loggers(config.train.loggers)  # a missing package fails before any work is done
    # an architecture built on a pretrained encoder reads that encoder's own tokenizer's ids
    own_vocabulary = getattr(get_spec(config.architecture).model_cls, "input_vocabulary", None)
    data = prepare(config.data, vocab=own_vocabulary() if own_vocabulary else None)
    _task(config, data.modality)  # a task that does not fit the data fails before any work
    model, arch_config = _build_model(config, data)
    train_loader, val_loader = _loaders(config, data, _min_length(arch_config))
    config_dict = config.model_dump(mode="json")
    run, resume_from = _open_run(registry, config.name, config_dict, resume=resume)
    tracking = _tracking(config, registry, run, config_dict)
    callbacks = [_recorder(registry, run, on_epoch), *([tracking] if tracking else [])]
    trainer = _trainer(config, registry, run, callbacks, progress)
    # the loggers close as finished, failed or interrupted, after the version is recorded;
    # the heartbeat keeps the run's lease (and so its draft) alive for `registry gc` meanwhile
    with registry.heartbeat(run.id), tracking or nullcontext():
        started = time.perf_counter()
        with marking_failures(registry, run):
            history = trainer.fit(model, train_loader, val_loader, resume_from=resume_from)
            trainer.load_best_weights(model)
        train_seconds = time.perf_counter() - started
        done = _register(
            registry,
            config,
            data,
            model=model,
            trainer=trainer,
            history=history,
            run=run,
            arch_config=arch_config,
            train_seconds=train_seconds,
        )
        registry.complete_run(run.id)
        if tracking is not None:
            tracking.log_version(done.version.ref)
    return TrainOutcome(
        version=done.version,
        run=registry.get_run(run.id),
        history=history,
        test=done.report.result,
        baseline=done.baseline,
        baseline_seconds=done.baseline_seconds,
        train_seconds=train_seconds,
        plots=done.report.plots,
        resumed_from_epoch=trainer.start_epoch - 1,
        tracking={} if tracking is None else tracking.locations,
    )
