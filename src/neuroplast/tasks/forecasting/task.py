"""The forecasting task handler (see :mod:`neuroplast.tasks`).

Importing this module is light (pydantic only): ``check_config`` runs whenever a run
config is loaded. The verbs import torch and statsmodels when they run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.errors import ConfigError
from neuroplast.tasks._config import check_monitor, validate_section
from neuroplast.tasks.forecasting.config import ARCHITECTURES, ForecastConfig

if TYPE_CHECKING:
    from neuroplast.config import RunConfig
    from neuroplast.registry import Registry
    from neuroplast.tasks import Progress, TaskResult
    from neuroplast.types import ModelMetrics

__all__ = ["ForecastHandler"]

_BUILTIN = ("co2", "sunspots", "seattle_temps")


class ForecastHandler:
    """LSTM / temporal CNN forecasters of a series column, rolling-origin evaluation."""

    task = "forecasting"

    def check_config(self, config: RunConfig, where: str) -> None:
        arch = config.architecture
        if arch not in ARCHITECTURES:
            raise ConfigError(
                f"{where}: model.architecture={arch!r} is not a forecasting architecture; "
                f"choose one of {', '.join(ARCHITECTURES)}"
            )
        validate_section(ARCHITECTURES[arch], config.arch_options, f"{where}: model")
        dataset = config.data.dataset
        if dataset is not None and dataset not in _BUILTIN:
            raise ConfigError(
                f"{where}: data.dataset={dataset!r} is not a built-in series; choose one of "
                f"{', '.join(_BUILTIN)}, or set data.path to a series file"
            )
        cfg = config.forecast or ForecastConfig()
        if dataset is not None and (cfg.covariates or cfg.date_column):
            raise ConfigError(
                f"{where}: a built-in series has its own date column and no covariates; "
                "remove forecast.covariates / forecast.date_column"
            )
        check_monitor(config.train, where)

    def train(
        self,
        config: RunConfig,
        registry: Registry,
        *,
        progress: Progress | None = None,
        on_epoch: Callable[[ModelMetrics], None] | None = None,
    ) -> TaskResult:
        from neuroplast.tasks.forecasting.training import train_forecast

        return train_forecast(config, registry, progress=progress, on_epoch=on_epoch)

    def evaluate(
        self, registry: Registry, model: str, *, split: str = "test", data: str | None = None
    ) -> TaskResult:
        from neuroplast.tasks.forecasting.evaluation import evaluate_forecast

        return evaluate_forecast(registry, model, split=split, data=data)

    def predict(self, registry: Registry, model: str, **options: Any) -> TaskResult:
        """Options: ``horizon`` (points, at most the trained horizon), ``file`` (a series to
        forecast after instead of the training series), ``plot`` (where the PNG goes)."""
        from neuroplast.tasks.forecasting.prediction import predict_forecast

        unknown = set(options) - {"horizon", "file", "plot"}
        if unknown:
            raise ConfigError(f"forecast predict takes horizon, file, plot; not {unknown}")
        file, plot = options.get("file"), options.get("plot")
        return predict_forecast(
            registry,
            model,
            horizon=options.get("horizon"),
            file=None if file is None else Path(file),
            plot=None if plot is None else Path(plot),
        )
