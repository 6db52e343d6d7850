"""Forecast metrics and the classical baselines, refitted on each fold's history.

- ``seasonal_naive``: each point repeats the value one season earlier (with no season, the
  last value: naive).
- ``ets``: statsmodels' Holt-Winters exponential smoothing (additive damped trend, additive
  season when the series has one), fitted by maximum likelihood on the fold's history.
- ``arima``: statsmodels' ARIMA(1,1,1) with a seasonal (0,1,1) part at the season (the
  "airline" form), ARIMA(2,1,2) without a season.

MASE divides the MAE by the in-sample MAE of the seasonal naive forecast on the training
part (lag 1 with no season), the same scale for every method.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from neuroplast.errors import ConfigError

__all__ = ["baseline_forecast", "forecast_errors", "mase_scale"]

logger = logging.getLogger(__name__)


def seasonal_naive(history: np.ndarray, horizon: int, season: int | None) -> np.ndarray:
    m = season or 1
    steps = np.arange(horizon)
    return history[len(history) - m + (steps % m)]


def _statsmodels() -> None:
    try:
        import statsmodels  # noqa: F401
    except ImportError as e:
        raise ConfigError(
            "the ets / arima baselines need statsmodels: pip install 'neuroplast[tasks]' "
            "(or leave them out of forecast.baselines)"
        ) from e


def _ets(history: np.ndarray, horizon: int, season: int | None) -> np.ndarray:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    seasonal = "add" if season and len(history) >= 2 * season + 2 else None
    model = ExponentialSmoothing(
        history,
        trend="add",
        damped_trend=True,
        seasonal=seasonal,
        seasonal_periods=season if seasonal else None,
        initialization_method="estimated",
    )
    return np.asarray(model.fit().forecast(horizon))


def _arima(history: np.ndarray, horizon: int, season: int | None) -> np.ndarray:
    from statsmodels.tsa.arima.model import ARIMA

    if season:
        model = ARIMA(history, order=(1, 1, 1), seasonal_order=(0, 1, 1, season))
    else:
        model = ARIMA(history, order=(2, 1, 2))
    return np.asarray(model.fit().forecast(horizon))


def baseline_forecast(
    name: str, history: np.ndarray, horizon: int, season: int | None
) -> np.ndarray:
    """The baseline ``name``'s forecast of the next ``horizon`` points after ``history``."""
    if name == "seasonal_naive":
        return seasonal_naive(history, horizon, season)
    _statsmodels()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes of the optimiser
        fitted = _ets(history, horizon, season) if name == "ets" else None
        if name == "arima":
            fitted = _arima(history, horizon, season)
    if fitted is None:
        raise ConfigError(f"unknown baseline {name!r}; use seasonal_naive, ets or arima")
    return fitted


def mase_scale(train: np.ndarray, season: int | None) -> float:
    """The in-sample MAE of the seasonal naive forecast (lag ``season``, else 1)."""
    m = season or 1
    diffs = np.abs(train[m:] - train[:-m])
    return float(diffs.mean()) if len(diffs) and diffs.mean() > 0 else 1.0


def forecast_errors(actual: np.ndarray, forecast: np.ndarray, scale: float) -> dict[str, float]:
    """MAE, RMSE, MAPE (%; only where no actual value is 0), sMAPE (%) and MASE over every
    forecast point given (all folds pooled)."""
    error = forecast - actual
    out = {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "smape": float(
            100 * np.mean(2 * np.abs(error) / np.maximum(np.abs(actual) + np.abs(forecast), 1e-12))
        ),
        "mase": float(np.abs(error).mean() / scale),
    }
    if (actual != 0).all():
        out["mape"] = float(100 * np.mean(np.abs(error / actual)))
    return out
