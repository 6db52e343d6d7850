"""Rolling-origin evaluation of a forecasting version beside the classical baselines.

Fold ``k`` forecasts the ``horizon`` points after origin ``k`` from everything before it:
the network reads its last ``lookback`` points (it is not refitted: it was trained on the
part before the first origin), each baseline is refitted on the whole history before the
origin. Errors of every fold are pooled; MASE uses one scale (see
:mod:`neuroplast.tasks.forecasting.baselines`). ``--data FILE`` evaluates on another series
file of the same columns (its last folds). A version trained by ``create_and_train_model``
on windows is evaluated on the validation windows it keeps, beside the naive forecast (the
window's last value), MASE scaled by the windows' one-step naive error.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from neuroplast.config import parse_run_config
from neuroplast.errors import ConfigError
from neuroplast.registry import Registry
from neuroplast.tasks import TaskResult
from neuroplast.tasks._store import API_SOURCE, StoredTask, api_data, load_task_version
from neuroplast.tasks._tables import read_table
from neuroplast.tasks.forecasting.baselines import baseline_forecast, forecast_errors, mase_scale
from neuroplast.tasks.forecasting.config import ForecastConfig
from neuroplast.tasks.forecasting.data import Folds, Series, fold_origins, load_series
from neuroplast.tasks.forecasting.data import series_from_frame as _from_frame
from neuroplast.tasks.forecasting.models import build_model
from neuroplast.tasks.forecasting.state import ForecastState, forecast

__all__ = ["evaluate_forecast", "format_errors", "rolling_origin"]


def format_errors(name: str, m: dict[str, Any]) -> str:
    keys = ("mae", "rmse", "mape", "smape", "mase", "coverage")
    return f"{name:<16} " + "  ".join(f"{k} {m[k]:.4f}" for k in keys if m.get(k) is not None)


def rolling_origin(
    net: nn.Module,
    state: ForecastState,
    series: Series,
    folds: Folds,
    baselines: Sequence[str],
) -> dict[str, dict[str, Any]]:
    """Metrics by method (``model`` and each baseline) over the folds, pooled."""
    values, target, h = series.values, series.values[:, 0], folds.horizon
    scale = mase_scale(target[: folds.origins[0]], state.season)
    actual = np.concatenate([target[o : o + h] for o in folds.origins])
    points = np.concatenate([forecast(net, state, values[:o]) for o in folds.origins])
    low, high = state.bounds(points.reshape(len(folds.origins), h))
    results = {"model": forecast_errors(actual, points, scale)}
    inside = (actual >= low.ravel()) & (actual <= high.ravel())
    results["model"]["coverage"] = float(inside.mean())
    for name in baselines:
        started = time.perf_counter()
        guess = np.concatenate(
            [baseline_forecast(name, target[:o], h, state.season) for o in folds.origins]
        )
        results[name] = forecast_errors(actual, guess, scale)
        results[name]["seconds"] = round(time.perf_counter() - started, 2)
    return results


def _lines(ref: str, source: str, folds: Folds, results: dict[str, Any]) -> list[str]:
    head = (
        f"{ref} on {len(folds.origins)} rolling-origin folds of {folds.horizon} points "
        f"({source}; origins {', '.join(map(str, folds.origins))})"
    )
    return [head, *(format_errors(name, m) for name, m in results.items())]


def evaluate_forecast(
    registry: Registry, model: str, *, split: str = "test", data: str | None = None
) -> TaskResult:
    if split != "test":
        raise ConfigError(
            "forecasting is evaluated on its rolling-origin folds at the series' end (--split "
            "test); other splits do not apply"
        )
    stored = load_task_version(registry, model, "forecasting")
    state = ForecastState.from_json(stored.state)
    kept = None if data is not None else api_data(stored)
    if kept is not None:
        return _evaluate_windows(registry, stored, state, kept)
    config = parse_run_config(stored.version.config, where=f"{stored.version.ref}'s config")
    cfg = config.forecast or ForecastConfig()
    if data is None:
        series = load_series(config.data, cfg)
    else:
        own = cfg.model_copy(update={"target": state.target, "covariates": state.columns[1:]})
        series = _from_frame(read_table(data), own, data)
    folds = fold_origins(len(series), cfg, config.data.val_fraction)
    results = rolling_origin(stored.build(build_model), state, series, folds, cfg.baselines)
    registry.add_evaluation(
        stored.version.id,
        split="folds",
        data_source=series.source,
        metrics=results["model"],
        baseline={k: v for k, v in results.items() if k != "model"} or None,
    )
    document = {
        "version": stored.version.ref,
        "data_source": series.source,
        "origins": folds.origins,
        "horizon": folds.horizon,
        "season": state.season,
        "interval": {k: state.interval[k] for k in ("method", "level")},
        "metrics": results["model"],
        "baselines": {k: v for k, v in results.items() if k != "model"},
    }
    lines = _lines(stored.version.ref, series.source, folds, results)
    return TaskResult(stored.version, results["model"], document, lines)


def _evaluate_windows(
    registry: Registry, stored: StoredTask, state: ForecastState, kept: dict[str, Tensor]
) -> TaskResult:
    """A Python-API version on its kept validation windows, beside the naive forecast."""
    windows, actual = kept["val"], kept["val_targets"].numpy()
    with torch.no_grad():
        points = stored.build(build_model)(windows).numpy()
    history = windows[:, :, 0].numpy()
    scale = float(np.abs(np.diff(history, axis=1)).mean()) or 1.0
    naive = np.repeat(history[:, -1:], actual.shape[1], axis=1)
    low, high = state.bounds(points)
    results = {"model": forecast_errors(actual.ravel(), points.ravel(), scale)}
    results["model"]["coverage"] = float(((actual >= low) & (actual <= high)).mean())
    results["naive"] = forecast_errors(actual.ravel(), naive.ravel(), scale)
    source = f"{API_SOURCE} val_data ({len(windows)} windows)"
    registry.add_evaluation(
        stored.version.id,
        split="val",
        data_source=source,
        metrics=results["model"],
        baseline={"naive": results["naive"]},
    )
    document = {
        "version": stored.version.ref,
        "data_source": source,
        "horizon": int(actual.shape[1]),
        "metrics": results["model"],
        "baselines": {"naive": results["naive"]},
    }
    head = f"{stored.version.ref} on {source}"
    lines = [head, *(format_errors(name, m) for name, m in results.items())]
    return TaskResult(stored.version, results["model"], document, lines)
