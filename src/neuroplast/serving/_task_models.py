"""The served forms of the task handlers' models: an anomaly detector (rows, series windows
or images -> score and ``is_anomaly`` against the stored threshold) and a forecaster (a
history -> the next values with the stored intervals). Each loads its version through the
task's own public functions (``load_task_version``, the state classes, ``score``,
``forecast``), so serving computes exactly what ``neuroplast predict`` does; the text
models are in :mod:`neuroplast.serving._text_models`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from neuroplast.errors import DataError
from neuroplast.serving._loading import InputSpec
from neuroplast.serving._task_kinds import NEUROMORPHIC, TaskModel

if TYPE_CHECKING:
    from neuroplast.registry import Registry

__all__ = ["AnomalyModel", "ForecastModel", "load_task_model"]

Row = Sequence[float] | dict[str, float]


def _finite(values: np.ndarray, where: str) -> np.ndarray:
    if not np.isfinite(values).all():
        raise DataError(f"{where} holds NaN or infinite values; send finite numbers only")
    return values


def _finite_out(values: np.ndarray, what: str) -> np.ndarray:
    if not np.isfinite(values).all():
        raise DataError(
            f"{what} overflow (inf or NaN): the inputs are too far outside the data the model "
            "was trained on to answer"
        )
    return values


class AnomalyModel(TaskModel):
    """An autoencoder version: inputs scored by reconstruction error, flagged above the
    threshold stored with the version."""

    task = "anomaly_detection"

    def __init__(self, registry: Registry, ref: str) -> None:
        from neuroplast.tasks.anomaly.models import build_model
        from neuroplast.tasks.anomaly.state import AnomalyState
        from neuroplast.tasks.stored import load_task_version

        stored = load_task_version(registry, ref, self.task)
        self.ref = stored.version.ref
        self.state = AnomalyState.from_json(stored.state)
        self.net = stored.build(build_model)
        self.label_names = []
        kind = self.state.kind
        if kind == "image":
            channels, height, _ = self.state.input_shape
            self.spec = InputSpec("image", channels=int(channels), size=int(height))
        else:
            self.spec = InputSpec(str(kind))

    @property
    def threshold(self) -> float:
        return self.state.cut

    @property
    def width(self) -> int:
        """Values per input: the columns of a row, or the points of a window."""
        if self.state.kind == "series":
            return int(self.state.window or 0)
        return len(self.state.columns)

    def details(self) -> dict[str, Any]:
        state = self.state
        out: dict[str, Any] = {
            "threshold": self.threshold,
            "threshold_rule": state.threshold.get("rule"),
            "inputs": state.kind,
        }
        if state.kind == "tabular":
            out["columns"] = list(state.columns)
        elif state.kind == "series":
            out.update(column=state.columns[0], window=state.window, stride=state.stride)
        else:
            out["normal_class"] = state.normal_class
        return out

    def rows(self, inputs: Sequence[Row]) -> list[np.ndarray]:
        """Tabular rows (lists in column order, or objects keyed by column) or series
        windows (lists of ``window`` points), checked, as float64 vectors."""
        if self.state.kind == "image":
            raise DataError(
                f"{self.ref} scores images: upload them as multipart/form-data `file` parts "
                "(curl -F file=@image.png)"
            )
        what = "row" if self.state.kind == "tabular" else "window"
        out = []
        for i, raw in enumerate(inputs):
            if isinstance(raw, dict):
                raw = self._ordered(raw, i)
            values = np.asarray(raw, dtype=np.float64)
            if values.shape != (self.width,):
                unit = "columns" if what == "row" else "points"
                raise DataError(
                    f"input {i} has {len(values)} values; {self.ref} reads {self.width} {unit} "
                    f"per {what}" + (f" ({', '.join(self.state.columns)})" if what == "row" else "")
                )
            out.append(_finite(values, f"input {i}"))
        return out

    def _ordered(self, row: dict[str, float], i: int) -> list[float]:
        columns = list(self.state.columns)
        if self.state.kind != "tabular":
            raise DataError(f"input {i}: a series window is a list of {self.width} numbers")
        missing = [c for c in columns if c not in row]
        extra = [c for c in row if c not in columns]
        if missing or extra:
            raise DataError(
                f"input {i}: columns {', '.join(missing) or '-'} missing, "
                f"{', '.join(extra) or '-'} unknown; {self.ref} reads {', '.join(columns)}"
            )
        return [row[c] for c in columns]

    def series(self, values: Sequence[float]) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
        """A whole series cut into the stored windows (every ``stride`` points), with each
        window's [start, end) span."""
        from neuroplast.tasks.anomaly.data import windows

        if self.state.kind != "series":
            raise DataError(f"{self.ref} scores {self.state.kind} inputs; `series` is for series")
        points = _finite(np.asarray(values, dtype=np.float64), "series")
        found, starts = windows(points, self.width, int(self.state.stride or 1))
        return list(found), [(int(s), int(s) + self.width) for s in starts]

    def images(self, pixels: np.ndarray) -> list[np.ndarray]:
        """uint8 uploads ``[N, C, H, W]`` as the 0..1 floats the autoencoder was trained on."""
        return list(np.asarray(pixels, dtype=np.float32) / 255.0)

    def run(self, items: list[Any]) -> list[float]:
        from neuroplast.tasks.anomaly.models import score

        x = self.state.tensor(np.stack(items))
        scores = score(self.net, x).numpy()
        return [float(v) for v in _finite_out(scores, "the scores")]


class ForecastModel(TaskModel):
    """A forecaster version: the next ``horizon`` values after a history (the stored end of
    its training series, or one the request sends), with the stored residual intervals."""

    task = "forecasting"

    def __init__(self, registry: Registry, ref: str) -> None:
        from neuroplast.tasks.forecasting.models import build_model
        from neuroplast.tasks.forecasting.state import ForecastState
        from neuroplast.tasks.stored import load_task_version

        stored = load_task_version(registry, ref, self.task)
        self.ref = stored.version.ref
        self.state = ForecastState.from_json(stored.state)
        self.net = stored.build(build_model)
        self.label_names = []
        self.spec = InputSpec("series")

    def details(self) -> dict[str, Any]:
        s = self.state
        return {
            "target": s.target,
            "columns": list(s.columns),
            "lookback": s.lookback,
            "horizon": s.horizon,
            "interval": {"method": s.interval.get("method"), "level": s.interval.get("level")},
            "last_date": s.last_date,
        }

    def steps(self, horizon: int | None) -> int:
        steps = self.state.horizon if horizon is None else horizon
        if not 1 <= steps <= self.state.horizon:
            raise DataError(
                f"horizon {steps}: {self.ref} forecasts 1 to {self.state.horizon} points at "
                f"once; retrain with forecast.horizon: {steps} for more"
            )
        return steps

    def history(self, values: Sequence[float] | Sequence[Sequence[float]] | None) -> np.ndarray:
        """The rows to forecast after: the stored tail, or the request's history (numbers
        of the target, or rows [target, covariates...] for a model with covariates)."""
        s = self.state
        if values is None:
            return np.asarray(s.tail, dtype=np.float64)
        if not values:
            raise DataError("history is empty; send the last points of the series, or leave it out")
        try:
            rows = np.asarray(values, dtype=np.float64)
        except ValueError as e:  # ragged rows
            raise DataError(
                f"history rows must all have the same width ({len(s.columns)}): {e}"
            ) from e
        if rows.ndim == 1:
            rows = rows[:, None]
        if rows.ndim != 2 or rows.shape[1] != len(s.columns):
            names = ", ".join(s.columns)
            raise DataError(
                f"history rows have {rows.shape[-1]} values; {self.ref} reads {len(s.columns)} "
                f"({names}): send " + ("numbers" if len(s.columns) == 1 else f"rows [{names}]")
            )
        if len(rows) < s.lookback:
            raise DataError(
                f"history has {len(rows)} points; {self.ref} reads the last {s.lookback}: send "
                f"at least {s.lookback}"
            )
        return _finite(rows[-s.lookback :], "history")

    def dates(self, last: str | None, steps: int) -> list[str] | None:
        from neuroplast.tasks.forecasting.state import future_dates

        if last is not None:
            import pandas as pd

            try:
                last = pd.Timestamp(last).isoformat()
            except (TypeError, ValueError) as e:
                raise DataError(f"last_date {last!r} is not a date (e.g. 2024-05-01): {e}") from e
        return future_dates(self.state, last, steps)

    def bounds(self, point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.state.bounds(point)

    def run(self, items: list[Any]) -> list[np.ndarray]:
        from neuroplast.tasks.forecasting.state import forecast

        return [_finite_out(forecast(self.net, self.state, h), "the forecast") for h in items]


def load_task_model(registry: Registry, ref: str, kind: str) -> TaskModel:
    """The served form of version ``ref`` of serving kind ``kind`` (not a classifier)."""
    if kind == "anomaly_detection":
        return AnomalyModel(registry, ref)
    if kind == "forecasting":
        return ForecastModel(registry, ref)
    from neuroplast.serving._text_models import GenerationModel, NeuroModel

    if kind == "generation":
        return GenerationModel(registry, ref)
    if kind == NEUROMORPHIC:
        return NeuroModel(registry, ref)
    raise DataError(f"{ref}: no served form for models of kind {kind!r}")
