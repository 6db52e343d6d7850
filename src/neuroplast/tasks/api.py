"""The seed API's ``Engine.create_and_train_model`` for anomaly detection and forecasting:
the caller's own loaders (or datasets) of tensors instead of a run config.

- ``anomaly_detection``: batches of ``inputs`` or ``(inputs, labels)`` (1 = anomaly). Labelled
  anomalies are left out of training; the threshold is the best validation F1 when the
  validation data has labelled anomalies, else the ``1 - target_fpr`` quantile of the
  validation scores (``config["target_fpr"]``, default 0.01). The inputs are used as given
  (scaling ``none``).
- ``forecasting``: batches of ``(windows [b, lookback, features], targets [b, horizon])``, the
  target as feature 0; the intervals come from the validation residuals. ``predict`` with
  no file forecasts after the last validation window.

The version records ``data.path: <python api>`` and keeps the validation data (and up to
:data:`TRAIN_SAMPLE` training inputs, for the baselines) in ``api_data.safetensors``:
``evaluate`` without ``--data`` scores that held-out part.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from neuroplast.config import RunConfig, TrainConfig
from neuroplast.errors import ConfigError, DataError
from neuroplast.inference.bundle import ModelMeta
from neuroplast.registry import Registry
from neuroplast.tasks._fit import fit
from neuroplast.tasks._scaling import Scaler
from neuroplast.tasks._store import API_SOURCE, register_task_version, training_run

__all__ = ["TRAIN_SAMPLE", "create_and_train"]

#: Training inputs an anomaly version keeps for the baselines of ``evaluate``.
TRAIN_SAMPLE = 5000


def _tensors(data: Iterable[Any] | None, what: str) -> tuple[Tensor, Tensor | None]:
    """All batches of ``data`` concatenated: inputs and, when given, labels / targets."""
    if data is None:
        raise DataError(f"{what} is missing: pass a DataLoader or dataset of tensors")
    if isinstance(data, Dataset):
        data = DataLoader(data, batch_size=256)
    xs, ys = [], []
    for item in data:
        pair = item if isinstance(item, list | tuple) else (item,)
        xs.append(torch.as_tensor(pair[0], dtype=torch.float32))
        if len(pair) > 1:
            ys.append(torch.as_tensor(pair[1]))
    if not xs:
        raise DataError(f"{what} holds no batches")
    return torch.cat(xs), (torch.cat(ys) if ys and len(ys) == len(xs) else None)


def _train_config(
    epochs: int, optimizer: dict[str, Any] | None, patience: int | None, options: dict[str, Any]
) -> TrainConfig:
    raw = {
        "epochs": epochs,
        "optimizer": dict(optimizer or {}),
        "early_stopping": {"enabled": patience is not None, "patience": patience or 3},
        **options,
    }
    try:
        return TrainConfig.model_validate(raw)
    except ValueError as e:
        raise ConfigError(f"create_and_train_model: {e}") from e


def _anomaly_state(arch: str, x: Tensor, config: dict[str, Any]) -> Any:
    from neuroplast.tasks.anomaly.config import input_kind
    from neuroplast.tasks.anomaly.state import AnomalyState

    kind = input_kind(arch)
    columns = [f"x{i}" for i in range(x.shape[1])] if kind == "tabular" else ["value"]
    series = kind == "series"
    return AnomalyState(
        kind=kind,
        columns=columns,
        scaler=Scaler.fit(np.zeros((1, x.shape[1] if kind == "tabular" else 1)), "none"),
        input_shape=list(x.shape[1:]),
        threshold={},
        window=int(x.shape[1]) if series else None,
        stride=int(config.get("stride", 1)) if series else None,
    )


def _anomaly(
    registry: Registry,
    run_config: RunConfig,
    train: Any,
    val: Any,
    config: dict[str, Any],
    train_cfg: TrainConfig,
) -> str:
    from neuroplast.tasks.anomaly.config import AnomalyConfig
    from neuroplast.tasks.anomaly.metrics import choose_threshold
    from neuroplast.tasks.anomaly.models import Scorer, build_model, score

    (x, y), (vx, vy) = _tensors(train, "train_data"), _tensors(val, "val_data")
    if y is not None:
        x = x[y.reshape(-1) == 0]
    state = _anomaly_state(run_config.architecture, x, config)
    arch_config = {**run_config.arch_options, "input_shape": state.input_shape}
    torch.manual_seed(train_cfg.seed)
    model = build_model(run_config.architecture, arch_config)
    labels = None if vy is None else vy.reshape(-1).numpy().astype(np.int64)
    normal_val = vx if labels is None else vx[torch.from_numpy(labels == 0)]
    rule = "f1" if labels is not None and labels.any() else "fpr"
    cfg = AnomalyConfig(threshold=rule, target_fpr=float(config.get("target_fpr", 0.01)))
    with training_run(registry, run_config, None) as (run, record):
        result = fit(model, _mse_recon, (x,), (normal_val,), train_cfg, on_epoch=record)
        state.threshold = choose_threshold(score(model, vx).numpy(), labels, cfg)
        meta = _meta(run_config, state.kind, "anomaly_detection", arch_config)
        version = register_task_version(
            registry,
            run_config,
            run=run,
            meta=meta,
            model=model,
            state=state.to_json(),
            metrics={"best_epoch": result.best_epoch, "threshold": state.cut},
            onnx=(Scorer(model), torch.zeros(2, *state.input_shape), {0: "batch"}),
            tensors=_held_out(x, vx, vy),
        )
    return version.ref


def _held_out(x: Tensor, vx: Tensor, vy: Tensor | None) -> dict[str, Tensor]:
    """What ``evaluate`` reads back: the validation inputs (labels) and training inputs."""
    every = max(1, -(-len(x) // TRAIN_SAMPLE))
    kept = {"train": x[::every], "val": vx}
    return kept if vy is None else {**kept, "val_labels": vy.reshape(-1).long()}


def _mse_recon(model: torch.nn.Module, batch: tuple[Tensor, ...]) -> Tensor:
    return (model(batch[0]) - batch[0]).pow(2).mean()


def _mse(model: torch.nn.Module, batch: tuple[Tensor, ...]) -> Tensor:
    return (model(batch[0]) - batch[1]).pow(2).mean()


def _meta(config: RunConfig, modality: str, task: str, arch_config: dict[str, Any]) -> ModelMeta:
    return ModelMeta(
        architecture=config.architecture,
        modality=modality,
        task=task,
        arch_config=arch_config,
        label_names=[],
        preprocessing={},
        name=config.name,
    )


def _forecast(
    registry: Registry, run_config: RunConfig, train: Any, val: Any, train_cfg: TrainConfig
) -> str:
    from neuroplast.tasks.forecasting.models import build_model
    from neuroplast.tasks.forecasting.state import ForecastState

    (x, y), (vx, vy) = _tensors(train, "train_data"), _tensors(val, "val_data")
    if y is None or vy is None or x.ndim != 3:
        raise DataError("forecasting data are (windows [b, lookback, features], targets [b, h])")
    lookback, features, horizon = int(x.shape[1]), int(x.shape[2]), int(y.shape[1])
    arch_config = {**run_config.arch_options, "features": features, "horizon": horizon}
    arch_config["lookback"] = lookback
    state = ForecastState(
        target="value",
        columns=["value", *(f"x{i}" for i in range(1, features))],
        scaler=Scaler.fit(np.zeros((1, features)), "none"),
        lookback=lookback,
        horizon=horizon,
        season=None,
        tail=vx[-1].tolist(),
    )
    torch.manual_seed(train_cfg.seed)
    net = build_model(run_config.architecture, arch_config)
    with training_run(registry, run_config, None) as (run, record):
        result = fit(net, _mse, (x, y.float()), (vx, vy.float()), train_cfg, on_epoch=record)
        with torch.no_grad():
            residuals = (vy.float() - net(vx)).numpy()
        low, high = np.quantile(residuals, [0.05, 0.95], axis=0)
        state.interval = {
            "method": "residual_bootstrap",
            "level": 0.9,
            "lower": low.tolist(),
            "upper": high.tolist(),
        }
        version = register_task_version(
            registry,
            run_config,
            run=run,
            meta=_meta(run_config, "series", "forecasting", arch_config),
            model=net,
            state=state.to_json(),
            metrics={"best_epoch": result.best_epoch},
            onnx=(net, torch.zeros(2, lookback, features), {0: "batch"}),
            tensors={"val": vx, "val_targets": vy.float()},
        )
    return version.ref


def create_and_train(
    registry: Registry,
    model_name: str,
    architecture: str,
    task: str,
    train_data: Iterable[Any],
    val_data: Iterable[Any] | None,
    config: dict[str, Any],
    *,
    num_epochs: int = 10,
    optimizer_config: dict[str, Any] | None = None,
    early_stopping_patience: int | None = 3,
    **train_options: Any,
) -> str:
    """Train ``architecture`` for ``task`` on the caller's data; returns the version's ref."""
    extras = {"target_fpr", "stride"}
    model = {k: v for k, v in config.items() if k not in extras}
    run_config = RunConfig.model_validate(
        {
            "name": model_name,
            "task": task,
            "data": {"path": API_SOURCE},
            "model": {"architecture": architecture, **model},
        }
    )
    from neuroplast.tasks import task_handler

    task_handler(task).check_config(run_config, "create_and_train_model")
    train_cfg = _train_config(num_epochs, optimizer_config, early_stopping_patience, train_options)
    if task == "anomaly_detection":
        return _anomaly(registry, run_config, train_data, val_data, config, train_cfg)
    if task == "forecasting":
        return _forecast(registry, run_config, train_data, val_data, train_cfg)
    raise ConfigError(
        f"create_and_train_model trains anomaly_detection and forecasting, not {task}"
    )
