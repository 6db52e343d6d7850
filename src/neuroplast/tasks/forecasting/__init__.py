"""Forecasting a series column with an LSTM or a small temporal CNN.

Windows of ``lookback`` points (and optional covariates) -> the next ``horizon`` points at
once; scaling is stored with the version; evaluation is rolling-origin against statsmodels'
seasonal-naive / ETS / ARIMA; intervals come from a residual bootstrap on validation.
``handler()`` is what :func:`neuroplast.tasks.task_handler` calls; this module imports
neither torch nor statsmodels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from neuroplast.tasks.forecasting.task import ForecastHandler

__all__ = ["handler"]


def handler() -> ForecastHandler:
    from neuroplast.tasks.forecasting.task import ForecastHandler

    return ForecastHandler()
