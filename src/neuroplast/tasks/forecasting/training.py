"""Train a forecaster on the part of the series before the rolling origins, fit its
intervals on validation residuals, check it on the folds, register the version.

Intervals: the forecast plus the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of
the validation windows' residuals (actual - forecast) at each horizon step: an empirical
residual bootstrap (resampling whole residual paths gives the same per-step quantiles).
"""

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
from neuroplast.registry import Registry
from neuroplast.tasks import Progress, TaskResult
from neuroplast.tasks._fit import fit
from neuroplast.tasks._plots import plot_forecast
from neuroplast.tasks._scaling import Scaler
from neuroplast.tasks._store import register_task_version, training_run
from neuroplast.tasks.forecasting.config import ForecastConfig
from neuroplast.tasks.forecasting.data import Folds, Series, fold_origins, load_series
from neuroplast.tasks.forecasting.evaluation import format_errors, rolling_origin
from neuroplast.tasks.forecasting.models import build_model
from neuroplast.tasks.forecasting.state import ForecastState, date_step, forecast, windows_at
from neuroplast.types import ModelMetrics

__all__ = ["train_forecast"]


def _mse(model: nn.Module, batch: tuple[Tensor, ...]) -> Tensor:
    x, y = batch
    return (model(x) - y).pow(2).mean()


def _state(series: Series, cfg: ForecastConfig, folds: Folds) -> ForecastState:
    last, freq, step = date_step(series.dates)
    return ForecastState(
        target=series.target,
        columns=series.columns,
        scaler=Scaler.fit(series.values[: folds.cut_val], cfg.scaling),
        lookback=cfg.lookback,
        horizon=cfg.horizon,
        season=series.season,
        tail=series.values[-cfg.lookback :].tolist(),
        last_date=last,
        freq=freq,
        step_ns=step,
    )


def _intervals(
    net: nn.Module, state: ForecastState, val: tuple[Tensor, Tensor], level: float
) -> dict[str, object]:
    with torch.no_grad():
        predicted = state.unscale_target(net(val[0]).numpy())
    residuals = state.unscale_target(val[1].numpy()) - predicted
    low, high = np.quantile(residuals, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return {
        "method": "residual_bootstrap",
        "level": level,
        "lower": low.tolist(),
        "upper": high.tolist(),
        "residual_windows": len(residuals),
    }


def _plot(net: nn.Module, state: ForecastState, series: Series, folds: Folds, tmp: str) -> Path:
    """The last fold's forecast and interval after the history before it."""
    origin = folds.origins[-1]
    point = forecast(net, state, series.values[:origin])
    low, high = state.bounds(point)
    start = max(0, origin - 4 * state.horizon)
    x = series.dates if series.dates is not None else np.arange(len(series))
    return plot_forecast(
        series.values[start : origin + state.horizon, 0],
        point,
        low,
        high,
        Path(tmp) / "forecast.png",
        f"{series.target}: the last fold's forecast",
        history_x=list(x[start : origin + state.horizon]),
        forecast_x=list(x[origin : origin + state.horizon]),
        level=float(state.interval["level"]),
    )


def _meta(config: RunConfig, state: ForecastState, arch_config: dict[str, Any]) -> ModelMeta:
    return ModelMeta(
        architecture=config.architecture,
        modality="series",
        task="forecasting",
        arch_config=arch_config,
        label_names=[],
        preprocessing={
            "lookback": state.lookback,
            "features": len(state.columns),
            "horizon": state.horizon,
        },
        data=config.data.model_dump(mode="json"),
        name=config.name,
    )


def train_forecast(
    config: RunConfig,
    registry: Registry,
    *,
    progress: Progress | None = None,
    on_epoch: Callable[[ModelMetrics], None] | None = None,
) -> TaskResult:
    cfg = config.forecast or ForecastConfig()
    series = load_series(config.data, cfg)
    folds = fold_origins(len(series), cfg, config.data.val_fraction)
    state = _state(series, cfg, folds)
    scaled = state.scale(series.values)
    h, lb = cfg.horizon, cfg.lookback
    train = windows_at(scaled, range(lb, folds.cut_val - h + 1), lb, h)
    val = windows_at(scaled, range(folds.cut_val, folds.origins[0] - h + 1), lb, h)
    arch_config = {**config.arch_options, "features": len(state.columns), "horizon": h}
    arch_config["lookback"] = lb
    torch.manual_seed(config.train.seed)
    net = build_model(config.architecture, arch_config)
    with training_run(registry, config, on_epoch) as (run, record):
        result = fit(net, _mse, train, val, config.train, progress=progress, on_epoch=record)
        state.interval = _intervals(net, state, val, cfg.interval_level)
        folds_result = rolling_origin(net, state, series, folds, ["seasonal_naive"])
        test = folds_result["model"]
        summary = {
            "best_epoch": result.best_epoch,
            "epochs_trained": len(result.history),
            "train_seconds": round(result.seconds, 2),
            **{f"folds_{k}": v for k, v in test.items()},
            "seasonal_naive_mase": folds_result["seasonal_naive"]["mase"],
        }
        with tempfile.TemporaryDirectory(prefix="neuroplast-forecast-") as tmp:
            version = register_task_version(
                registry,
                config,
                run=run,
                meta=_meta(config, state, arch_config),
                model=net,
                state=state.to_json(),
                metrics=summary,
                plots={"forecast": _plot(net, state, series, folds, tmp)},
                onnx=(net, torch.zeros(2, lb, len(state.columns)), {0: "batch"}),
            )
    lines = [
        f"trained {len(result.history)} epochs in {result.seconds:.1f} s on "
        f"{len(train[0])} windows ({len(val[0])} validation windows; {series.filled} points "
        "interpolated)",
        *(format_errors(k, v) for k, v in folds_result.items()),
        f"registered {version.ref} (id {version.uid}) in {registry.home}",
    ]
    document = {"version": version.summary(), "folds": folds.origins, "results": folds_result}
    plots = {"forecast": version.artifacts["plots/forecast.png"].path}
    return TaskResult(version, test, document, lines, plots)
