"""What a forecasting version stores beside its weights (``task.json``): the columns, the
scaling, lookback / horizon / season, the interval's residual quantiles and the series' last
``lookback`` rows (so that ``predict`` forecasts from the end of the training data without
reading it again). Also the window arithmetic shared by training, evaluation and predict."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from neuroplast.errors import ArtifactError, DataError
from neuroplast.tasks._scaling import Scaler

__all__ = ["ForecastState", "date_step", "forecast", "future_dates", "windows_at"]


@dataclass
class ForecastState:
    target: str
    columns: list[str]
    scaler: Scaler
    lookback: int
    horizon: int
    season: int | None
    interval: dict[str, Any] = field(default_factory=dict)
    tail: list[list[float]] = field(default_factory=list)
    last_date: str | None = None
    freq: str | None = None  # pandas' frequency of the dates ("MS", "h", ...), if regular
    step_ns: int | None = None  # else the median step between dates

    def scale(self, values: np.ndarray) -> np.ndarray:
        return self.scaler.transform(values)

    def unscale_target(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values) * self.scaler.scale[0] + self.scaler.offset[0]

    def bounds(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The interval around forecasts ``[..., h]`` (original units)."""
        h = point.shape[-1]
        low = np.asarray(self.interval["lower"][:h])
        high = np.asarray(self.interval["upper"][:h])
        return point + low, point + high

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "columns": self.columns,
            "scaling": self.scaler.to_json(),
            "lookback": self.lookback,
            "horizon": self.horizon,
            "season": self.season,
            "interval": self.interval,
            "tail": self.tail,
            "last_date": self.last_date,
            "freq": self.freq,
            "step_ns": self.step_ns,
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> ForecastState:
        try:
            return cls(
                target=str(payload["target"]),
                columns=list(payload["columns"]),
                scaler=Scaler.from_json(payload["scaling"]),
                lookback=int(payload["lookback"]),
                horizon=int(payload["horizon"]),
                season=payload.get("season"),
                interval=dict(payload["interval"]),
                tail=[list(map(float, row)) for row in payload["tail"]],
                last_date=payload.get("last_date"),
                freq=payload.get("freq"),
                step_ns=payload.get("step_ns"),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(f"the stored forecast state is malformed ({e}); re-train") from e


def date_step(dates: pd.DatetimeIndex | None) -> tuple[str | None, str | None, int | None]:
    """The last date (ISO), the dates' pandas frequency (when regular) and median step (ns)."""
    if dates is None or len(dates) < 3:
        return (None if dates is None or not len(dates) else dates[-1].isoformat()), None, None
    try:
        with warnings.catch_warnings():  # pandas 3 announces offsets instead of strings
            warnings.simplefilter("ignore")
            found = pd.infer_freq(dates[-min(len(dates), 60) :])
    except (TypeError, ValueError):
        found = None
    freq = None if found is None else str(getattr(found, "freqstr", found))
    step = int(np.median(np.diff(dates.as_unit("ns").asi8)))
    return dates[-1].isoformat(), freq, step


def future_dates(state: ForecastState, last: str | None, steps: int) -> list[str] | None:
    """The dates of the ``steps`` points after ``last`` (None without dates)."""
    if last is None:
        return None
    start = pd.Timestamp(last)
    if state.freq is not None:
        stamps = pd.date_range(start, periods=steps + 1, freq=state.freq)[1:]
    elif state.step_ns:
        stamps = pd.DatetimeIndex(
            [start + pd.Timedelta(state.step_ns * (i + 1)) for i in range(steps)]
        )
    else:
        return None
    return [s.isoformat() for s in stamps]


def windows_at(
    scaled: np.ndarray, starts: range | list[int], lookback: int, horizon: int
) -> tuple[Tensor, Tensor]:
    """Inputs ``[k, lookback, features]`` ending just before each start and the scaled
    targets ``[k, horizon]`` from it (zeros past the series' end)."""
    starts = list(starts)
    x = np.stack([scaled[t - lookback : t] for t in starts])
    y = np.zeros((len(starts), horizon))
    for i, t in enumerate(starts):
        part = scaled[t : t + horizon, 0]
        y[i, : len(part)] = part
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))


def forecast(net: nn.Module, state: ForecastState, history: np.ndarray) -> np.ndarray:
    """The next ``horizon`` target values (original units) after raw ``history`` rows."""
    if len(history) < state.lookback:
        raise DataError(
            f"the model reads the last {state.lookback} points; the series has {len(history)}"
        )
    window = state.scale(history[-state.lookback :])
    with torch.no_grad():
        out = net(torch.from_numpy(window[None].astype(np.float32))).numpy()[0]
    return np.asarray(state.unscale_target(out))
