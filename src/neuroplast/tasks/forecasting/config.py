"""The ``forecast:`` section of a run config and the forecasters' ``model:`` keys.

pydantic only: :mod:`neuroplast.config` loads this with every YAML file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from neuroplast.tasks._config import Strict

Baseline = Literal["seasonal_naive", "ets", "arima"]

__all__ = ["ARCHITECTURES", "ForecastConfig", "LSTMForecasterConfig", "TCNForecasterConfig"]


class ForecastConfig(Strict):
    """Which column is forecast, from how much history, how far ahead, and how it is checked."""

    target: str = Field("value", description="the column of the series to forecast")
    date_column: str | None = Field(
        None, description="dates or times of the rows; checked for gaps and order"
    )
    covariates: list[str] = Field(
        default_factory=list, description="other numeric columns fed to the model (known past)"
    )
    lookback: int = Field(48, ge=2, le=4096, description="past points the model reads")
    horizon: int = Field(12, ge=1, le=1024, description="future points forecast at once")
    season: int | None = Field(
        None, ge=2, description="seasonal period (seasonal-naive, MASE, ETS); null = none"
    )
    folds: int = Field(3, ge=1, le=50, description="rolling-origin folds at the series' end")
    fold_step: int | None = Field(
        None, ge=1, description="points between fold origins; null = horizon"
    )
    scaling: Literal["standard", "minmax", "none"] = Field(
        "standard", description="fitted on the training part, stored with the version"
    )
    interval_level: float = Field(
        0.9, gt=0.0, lt=1.0, description="coverage of the residual-bootstrap intervals"
    )
    baselines: list[Baseline] = Field(
        default_factory=lambda: list[Baseline](["seasonal_naive", "ets"]),
        description="statsmodels baselines refitted on each fold's history by evaluate",
    )
    max_gap_fill: int = Field(
        0,
        ge=0,
        description="missing points in a row that are filled by interpolation; longer gaps "
        "(and any with 0) are an error",
    )

    @model_validator(mode="after")
    def _covariates_differ(self) -> ForecastConfig:
        if self.target in self.covariates:
            raise ValueError(f"covariates lists the target {self.target!r}")
        return self


_RELATIVE = (
    "forecast changes from the window's last value (follows a trend past the training range); "
    "false: forecast the scaled values themselves"
)


class LSTMForecasterConfig(Strict):
    """An LSTM over the lookback window; a linear head gives every horizon step at once."""

    hidden_size: int = Field(64, ge=1)
    num_layers: int = Field(1, ge=1, le=4)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    relative: bool = Field(True, description=_RELATIVE)


class TCNForecasterConfig(Strict):
    """A small temporal CNN: causal dilated 1-D convolutions, then a linear head."""

    channels: int = Field(32, ge=1)
    levels: int = Field(4, ge=1, le=10, description="dilations 1, 2, 4, ...")
    kernel_size: int = Field(3, ge=2)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    relative: bool = Field(True, description=_RELATIVE)


ARCHITECTURES: dict[str, type[Strict]] = {
    "lstm_forecaster": LSTMForecasterConfig,
    "tcn_forecaster": TCNForecasterConfig,
}
