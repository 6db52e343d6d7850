"""Train an autoencoder on normal data, choose its threshold, register the version."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from neuroplast.config import RunConfig
from neuroplast.inference.bundle import ModelMeta
from neuroplast.registry import Registry, RunRecord, VersionRecord
from neuroplast.tasks import Progress, TaskResult
from neuroplast.tasks._fit import FitResult, fit
from neuroplast.tasks._plots import plot_scores
from neuroplast.tasks._scaling import Scaler
from neuroplast.tasks._store import register_task_version, training_run
from neuroplast.tasks.anomaly.config import AnomalyConfig, input_kind
from neuroplast.tasks.anomaly.data import AnomalySplits, load_anomaly_data
from neuroplast.tasks.anomaly.metrics import anomaly_metrics, choose_threshold
from neuroplast.tasks.anomaly.models import Scorer, build_model, score
from neuroplast.tasks.anomaly.state import AnomalyState
from neuroplast.types import ModelMetrics

__all__ = ["fit_scaler", "format_metrics", "train_anomaly"]


def fit_scaler(splits: AnomalySplits, cfg: AnomalyConfig) -> Scaler:
    """Tabular: per column; series: one offset and scale over every training point; images:
    none (pixels are already 0..1)."""
    if splits.kind == "tabular":
        return Scaler.fit(splits.train, cfg.scaling)
    if splits.kind == "series":
        return Scaler.fit(splits.train.reshape(-1, 1), cfg.scaling)
    return Scaler.fit(np.zeros((1, 1)), "none")


def _reconstruction_loss(model: nn.Module, batch: tuple[Tensor, ...]) -> Tensor:
    (x,) = batch
    return (model(x) - x).pow(2).mean()


def format_metrics(name: str, m: dict[str, Any]) -> str:
    """One line of figures (those known) for the terminal."""
    keys = ("auroc", "auprc", "f1", "precision", "recall", "fpr")
    parts = [f"{k} {m[k]:.4f}" for k in keys if m.get(k) is not None]
    parts.append(f"flagged {m['flagged']}/{m['samples']}")
    return f"{name:<18} " + "  ".join(parts)


def _state(splits: AnomalySplits, cfg: AnomalyConfig, scaler: Scaler, shape: list[int]) -> Any:
    series = splits.kind == "series"
    return AnomalyState(
        kind=splits.kind,
        columns=splits.columns,
        scaler=scaler,
        input_shape=shape,
        threshold={},
        window=cfg.window if series else None,
        stride=cfg.stride if series else None,
        normal_class=cfg.normal_class if splits.kind == "image" else None,
        extra={"label_column": cfg.label_column, "anomaly_values": cfg.anomaly_values},
    )


def _register(
    registry: Registry,
    config: RunConfig,
    run: RunRecord,
    model: nn.Module,
    state: AnomalyState,
    splits: AnomalySplits,
    result: FitResult,
    test_scores: np.ndarray,
) -> VersionRecord:
    """The trained autoencoder as a version: weights, task.json, the test scores' histogram
    and the ONNX scorer; the summary holds the test metrics at the stored threshold."""
    test = anomaly_metrics(test_scores, splits.test_labels, state.cut)
    summary = {
        "best_epoch": result.best_epoch,
        "epochs_trained": len(result.history),
        "train_seconds": round(result.seconds, 2),
        "threshold": state.cut,
        **{f"test_{k}": v for k, v in test.items()},
    }
    meta = ModelMeta(
        architecture=config.architecture,
        modality=splits.kind,
        task="anomaly_detection",
        arch_config=model_arch_config(config, state),
        label_names=["normal", "anomaly"],
        preprocessing={"input_shape": state.input_shape},
        data=config.data.model_dump(mode="json"),
        name=config.name,
    )
    with tempfile.TemporaryDirectory(prefix="neuroplast-anomaly-") as tmp:
        title = f"{config.name}: test scores"
        plot = plot_scores(test_scores, splits.test_labels, state.cut, Path(tmp) / "s.png", title)
        return register_task_version(
            registry,
            config,
            run=run,
            meta=meta,
            model=model,
            state=state.to_json(),
            metrics=summary,
            plots={"scores": plot},
            onnx=(Scorer(model), torch.zeros(2, *state.input_shape), {0: "batch"}),
        )


def model_arch_config(config: RunConfig, state: AnomalyState) -> dict[str, Any]:
    """The ``model:`` keys plus the input shape the data gives."""
    return {**config.arch_options, "input_shape": state.input_shape}


def train_anomaly(
    config: RunConfig,
    registry: Registry,
    *,
    progress: Progress | None = None,
    on_epoch: Callable[[ModelMetrics], None] | None = None,
) -> TaskResult:
    """Data -> scaling -> autoencoder on normal training inputs -> threshold on validation ->
    test metrics -> a registry version (weights, task.json, score plot, ONNX scorer)."""
    cfg = config.anomaly or AnomalyConfig()
    splits = load_anomaly_data(config.data, cfg, input_kind(config.architecture))
    scaler = fit_scaler(splits, cfg)
    state = _state(splits, cfg, scaler, list(splits.train.shape[1:]))
    train_x, val_x, test_x = (state.tensor(x) for x in (splits.train, splits.val, splits.test))
    torch.manual_seed(config.train.seed)
    model = build_model(config.architecture, model_arch_config(config, state))
    with training_run(registry, config, on_epoch) as (run, record):
        result = fit(
            model,
            _reconstruction_loss,
            (train_x,),
            (val_x[torch.from_numpy(splits.val_labels == 0)],)
            if splits.val_labels is not None
            else (val_x,),
            config.train,
            progress=progress,
            on_epoch=record,
            description=f"training {config.name}",
        )
        val_scores, test_scores = score(model, val_x).numpy(), score(model, test_x).numpy()
        state.threshold = choose_threshold(val_scores, splits.val_labels, cfg)
        version = _register(registry, config, run, model, state, splits, result, test_scores)
    test = anomaly_metrics(test_scores, splits.test_labels, state.cut)
    lines = [
        f"trained {len(result.history)} epochs in {result.seconds:.1f} s on "
        f"{len(splits.train)} normal {splits.kind} inputs ({splits.dropped_from_train} "
        "labelled anomalies left out of training)",
        f"threshold {state.cut:.6g} ({state.threshold['rule']})",
        format_metrics(f"{config.architecture} (test)", test),
        f"registered {version.ref} (id {version.uid}) in {registry.home}",
    ]
    plots = {"scores": version.artifacts["plots/scores.png"].path}
    document = {"version": version.summary(), "test": test, "threshold": state.threshold}
    return TaskResult(version, test, document, lines, plots)
