"""A series to forecast: read, checked for order and gaps, and cut at the rolling origins.

Built in (read by path from installed packages, nothing downloaded): ``co2`` (statsmodels'
Mauna Loa weekly CO2, 1958-2001, as 526 monthly means; the 5 months without any reading,
at most 3 in a row, are interpolated; season 12), ``sunspots`` (statsmodels' yearly sunspot
numbers 1700-2008, 309 points; season 11, the solar cycle's usual length) and
``seattle_temps`` (vega's hourly Seattle temperatures of 2010, 8,759 points; the one missing
hour is interpolated; season 24).

Any CSV / TSV / JSONL / Parquet file works with ``forecast.target`` (and optionally
``date_column`` and ``covariates``). Its dates must parse and increase; a missing date or
an empty cell is a gap, an error unless ``forecast.max_gap_fill`` allows interpolating it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pandas as pd

from neuroplast.config import DataConfig
from neuroplast.errors import ConfigError, DataError, DatasetNotInstalledError
from neuroplast.tasks._tables import read_table, require_columns
from neuroplast.tasks.forecasting.config import ForecastConfig

__all__ = ["BUILTIN_SERIES", "Folds", "Series", "fold_origins", "load_series", "series_from_frame"]

#: name -> (package, file in it, date column, target column, season, points interpolated at most)
BUILTIN_SERIES: dict[str, tuple[str, str, str, str, int, int]] = {
    "co2": ("statsmodels", "datasets/co2/co2.csv", "date", "co2", 12, 3),
    "sunspots": ("statsmodels", "datasets/sunspots/sunspots.csv", "YEAR", "SUNACTIVITY", 11, 0),
    "seattle_temps": ("vega_datasets", "_data/seattle-temps.csv", "date", "temp", 24, 1),
}
_INSTALL = "pip install 'neuroplast[tasks]'"


@dataclass
class Series:
    """The target (and covariates) as floats in time order, with their dates if known."""

    source: str
    target: str
    values: np.ndarray  # [n, 1 + covariates]: the target first
    columns: list[str]
    dates: pd.DatetimeIndex | None
    season: int | None
    filled: int = 0  # points interpolated

    def __len__(self) -> int:
        return len(self.values)


def _package_file(package: str, relative: str, name: str) -> Path:
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotInstalledError(
            f"built-in series {name} needs the {package} package; install it with `{_INSTALL}`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise DatasetNotInstalledError(f"{path} is missing; reinstall it: `{_INSTALL}`")
    return path


def _builtin(name: str) -> tuple[pd.DataFrame, str, str, int, int]:
    package, relative, date_col, target, season, fill = BUILTIN_SERIES[name]
    frame = pd.read_csv(_package_file(package, relative, name))
    if name == "co2":  # weekly readings -> monthly means (a month without any is empty)
        frame[date_col] = pd.to_datetime(frame[date_col].astype(str), format="%Y%m%d")
        monthly = frame.set_index(date_col)[target].resample("MS").mean()
        frame = monthly.reset_index()
    elif name == "sunspots":
        frame[date_col] = pd.to_datetime(frame[date_col].astype(int).astype(str), format="%Y")
    return frame, date_col, target, season, fill


def _parse_dates(frame: pd.DataFrame, column: str, source: str) -> pd.DatetimeIndex:
    raw = frame[column]
    dates = pd.to_datetime(raw, errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{source}: column {column!r} data row {row + 1} is {raw.iloc[row]!r}, not a date; "
            "fix it (ISO dates like 2024-01-31 or 2024-01-31 13:00 read best)"
        )
    index = pd.DatetimeIndex(dates).as_unit("ns")
    steps = np.diff(index.asi8)
    if (steps <= 0).any():
        row = int(np.flatnonzero(steps <= 0)[0]) + 2
        word = "repeats" if steps[row - 2] == 0 else "goes back in time"
        raise DataError(
            f"{source}: the date in data row {row} ({index[row - 1]}) {word}; sort the rows "
            "by date and keep one row per date"
        )
    return index


def _regularise(
    frame: pd.DataFrame, dates: pd.DatetimeIndex, source: str, fill: int
) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    """Insert empty rows where dates are missing (a step more than 1.5 times the usual one),
    so that missing dates and empty cells are handled as one kind of gap."""
    steps = np.diff(dates.asi8)
    usual = int(pd.Series(steps).mode().iloc[0])
    missing = np.rint(steps / usual).astype(int) - 1
    big = np.flatnonzero((steps > 1.5 * usual) & (missing > fill))
    if len(big):
        row = int(big[0]) + 1
        raise DataError(
            f"{source}: the series has a gap of {int(missing[big[0]])} missing points after data "
            f"row {row} ({dates[row - 1]} -> {dates[row]}); add the missing rows, or set "
            f"forecast.max_gap_fill: {int(missing[big[0]])} to interpolate them"
        )
    if not (missing > 0).any():
        return frame, dates
    position = np.concatenate([[0], np.cumsum(missing + 1)])
    full = pd.DataFrame(index=range(int(position[-1]) + 1), columns=frame.columns, dtype=object)
    full.iloc[position] = frame.to_numpy()
    stamps = np.interp(np.arange(len(full)), position, dates.asi8.astype(np.float64))
    return full, pd.DatetimeIndex(stamps.astype("int64")).as_unit("ns")


def _fill(values: np.ndarray, column: str, source: str, fill: int) -> tuple[np.ndarray, int]:
    empty = np.isnan(values)
    if not empty.any():
        return values, 0
    runs = np.diff(np.concatenate([[0], empty.astype(int), [0]]))
    starts, ends = np.flatnonzero(runs == 1), np.flatnonzero(runs == -1)
    longest = int(np.argmax(ends - starts))
    length = int(ends[longest] - starts[longest])
    if length > fill or starts[0] == 0 or ends[-1] == len(values):
        raise DataError(
            f"{source}: column {column!r} has a gap of {length} empty points (from data row "
            f"{int(starts[longest]) + 1}); fill them, or set forecast.max_gap_fill: {length} to "
            "interpolate gaps inside the series"
        )
    known = np.flatnonzero(~empty)
    out = values.copy()
    out[empty] = np.interp(np.flatnonzero(empty), known, values[known])
    return out, int(empty.sum())


def _column(frame: pd.DataFrame, name: str, source: str) -> np.ndarray:
    raw = frame[name]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy() & raw.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{source}: column {name!r} holds text, not numbers: data row {row + 1} is "
            f"{raw.iloc[row]!r}; fix or remove it"
        )
    return values.to_numpy(dtype=np.float64)


def series_from_frame(
    frame: pd.DataFrame, cfg: ForecastConfig, source: str, *, date_column: str | None = None
) -> Series:
    """The target and covariates of ``frame``, gaps checked (and filled up to the limit)."""
    date_col = date_column if date_column is not None else cfg.date_column
    columns = [cfg.target, *cfg.covariates]
    require_columns(frame, columns + ([date_col] if date_col else []), source)
    dates = None
    if date_col is not None:
        dates = _parse_dates(frame, date_col, source)
        frame, dates = _regularise(frame, dates, source, cfg.max_gap_fill)
    filled, matrix = 0, []
    for name in columns:
        values, count = _fill(_column(frame, name, source), name, source, cfg.max_gap_fill)
        matrix.append(values)
        filled += count
    return Series(source, cfg.target, np.stack(matrix, axis=1), columns, dates, cfg.season, filled)


def load_series(data: DataConfig, cfg: ForecastConfig) -> Series:
    """The run's series: a built-in one (its own columns and season) or ``data.path``."""
    if data.dataset is not None:
        if data.dataset not in BUILTIN_SERIES:
            raise ConfigError(
                f"data.dataset={data.dataset!r} is not a built-in series; choose one of "
                f"{', '.join(BUILTIN_SERIES)}, or set data.path"
            )
        frame, date_col, target, season, fill = _builtin(data.dataset)
        own = cfg.model_copy(
            update={"target": target, "season": cfg.season or season, "covariates": []}
        )
        own = own.model_copy(update={"max_gap_fill": max(fill, cfg.max_gap_fill)})
        series = series_from_frame(frame, own, f"builtin:{data.dataset}", date_column=date_col)
    else:
        path = str(data.path)  # DataConfig requires data.dataset or data.path
        series = series_from_frame(read_table(path), cfg, path)
    if data.limit is not None and data.limit < len(series):  # the last points
        cut = len(series) - data.limit
        series.values = series.values[cut:]
        series.dates = None if series.dates is None else series.dates[cut:]
    return series


@dataclass(frozen=True)
class Folds:
    """Where the series is cut: training windows' targets end by ``cut_val``, validation
    windows' targets lie in ``[cut_val, origins[0])``, fold ``k`` forecasts
    ``[origins[k], origins[k] + horizon)``."""

    cut_val: int
    origins: list[int]
    horizon: int


def fold_origins(n: int, cfg: ForecastConfig, val_fraction: float) -> Folds:
    step = cfg.fold_step or cfg.horizon
    origins = [n - cfg.horizon - (cfg.folds - 1 - k) * step for k in range(cfg.folds)]
    n_val = max(cfg.horizon, round(origins[0] * val_fraction))
    cut_val = origins[0] - n_val
    if cut_val - cfg.lookback - cfg.horizon + 1 < 2:
        raise DataError(
            f"a series of {n} points is too short for lookback {cfg.lookback}, horizon "
            f"{cfg.horizon} and {cfg.folds} folds (need at least "
            f"{n - cut_val + cfg.lookback + cfg.horizon + 1}); lower them or give more data"
        )
    return Folds(cut_val, origins, cfg.horizon)
