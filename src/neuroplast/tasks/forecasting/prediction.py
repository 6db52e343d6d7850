"""Forecast the next points with a forecasting version: from the end of its training series
(stored with the version) or of a series file, with the stored intervals and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from neuroplast.config import parse_run_config
from neuroplast.errors import DataError
from neuroplast.registry import Registry
from neuroplast.tasks import TaskResult
from neuroplast.tasks._plots import plot_forecast
from neuroplast.tasks._store import load_task_version
from neuroplast.tasks._tables import read_table
from neuroplast.tasks.forecasting.config import ForecastConfig
from neuroplast.tasks.forecasting.data import series_from_frame
from neuroplast.tasks.forecasting.models import build_model
from neuroplast.tasks.forecasting.state import ForecastState, date_step, forecast, future_dates

__all__ = ["predict_forecast"]


def _history(
    state: ForecastState, cfg: ForecastConfig, file: Path | None
) -> tuple[np.ndarray, str | None, str]:
    """The rows to forecast after, their last date and where they came from."""
    if file is None:
        return np.asarray(state.tail), state.last_date, "the training series"
    own = cfg.model_copy(update={"target": state.target, "covariates": state.columns[1:]})
    series = series_from_frame(read_table(file), own, str(file))
    return series.values, date_step(series.dates)[0], str(file)


def predict_forecast(
    registry: Registry,
    model: str,
    *,
    horizon: int | None = None,
    file: Path | None = None,
    plot: Path | None = None,
) -> TaskResult:
    stored = load_task_version(registry, model, "forecasting")
    state = ForecastState.from_json(stored.state)
    steps = horizon or state.horizon
    if not 1 <= steps <= state.horizon:
        raise DataError(
            f"--horizon {steps}: {stored.version.ref} forecasts 1 to {state.horizon} points at "
            f"once; retrain with forecast.horizon: {steps} for more"
        )
    config = parse_run_config(stored.version.config, where=f"{stored.version.ref}'s config")
    history, last, source = _history(state, config.forecast or ForecastConfig(), file)
    point = forecast(stored.build(build_model), state, history)[:steps]
    low, high = state.bounds(point)
    dates = future_dates(state, last, steps)
    rows: list[dict[str, Any]] = [
        {
            "step": i + 1,
            **({"date": dates[i]} if dates else {}),
            "value": float(point[i]),
            "lower": float(low[i]),
            "upper": float(high[i]),
        }
        for i in range(steps)
    ]
    target = plot or registry.home / "plots" / f"{stored.version.model_name}-"
    if plot is None:
        target = Path(f"{target}v{stored.version.version}-forecast.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    level = float(state.interval["level"])
    shown = history[-4 * state.horizon :, 0]
    plot_forecast(
        shown, point, low, high, target, f"{stored.version.ref}: {state.target}", level=level
    )
    lines = [
        f"{stored.version.ref}: {steps} points after {source} ({level:.0%} intervals by "
        f"{state.interval['method'].replace('_', ' ')})",
        *(
            f"{r['step']:>4} {r.get('date', '')[:19]:<19} {r['value']:>12.4f}  "
            f"[{r['lower']:.4f}, {r['upper']:.4f}]"
            for r in rows
        ),
        f"plot: {target}",
    ]
    document = {
        "version": stored.version.ref,
        "interval": {"method": state.interval["method"], "level": level},
        "forecast": rows,
        "plot": str(target),
    }
    return TaskResult(stored.version, {"steps": steps}, document, lines, {"forecast": target})
