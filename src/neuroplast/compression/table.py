"""The table a team reads to choose what to ship, measured on real test inputs.

One row per variant: size on disk, batch-1 latency (each input predicted alone,
tokenization or pre-processing included), batch-64 throughput, test accuracy and macro F1,
each with its change against the first row (the parent, eager fp32). Inputs without labels
(a model trained through the Python API, measured without ``data=``) give size and speed
only: the accuracy and F1 keys are then None. Speeds come from
:func:`~neuroplast.inference.timing.time_calls`: a warm-up, then ``repeats`` rounds with the
variants interleaved (so ratios hold when the machine is shared), reported as the median
with its quartiles (``*_q1_*``, ``*_q3_*``) and spread (half the interquartile range).

A row's keys (all numbers rounded to 6 decimals): ``technique``, ``backend``, ``size_mb``,
``size_ratio`` (parent bytes / these bytes), ``latency_p50_ms`` (median over the repeats of
the mean time per single input), ``latency_q1_ms``, ``latency_q3_ms``,
``latency_spread_ms``, ``latency_speedup`` (parent median / this median),
``throughput_per_s`` (median inputs per second at ``batch_size``), ``throughput_q1_per_s``,
``throughput_q3_per_s``, ``throughput_spread_per_s``, ``throughput_speedup``, ``batch_size``,
``repeats``, ``accuracy``, ``accuracy_change``, ``f1_macro``, ``f1_change``, ``samples``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from neuroplast.inference.base import BasePredictor
from neuroplast.inference.inputs import SplitInputs
from neuroplast.inference.timing import MS, time_calls

__all__ = ["Variant", "compression_table", "macro_f1"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Variant:
    """One thing to measure: a name, its predictor and its size on disk in bytes."""

    technique: str
    predictor: BasePredictor
    size_bytes: int


@dataclass(frozen=True)
class Row:
    technique: str
    backend: str
    size_mb: float
    size_ratio: float
    latency_p50_ms: float
    latency_q1_ms: float
    latency_q3_ms: float
    latency_spread_ms: float
    latency_speedup: float
    throughput_per_s: float
    throughput_q1_per_s: float
    throughput_q3_per_s: float
    throughput_spread_per_s: float
    throughput_speedup: float
    batch_size: int
    repeats: int
    accuracy: float | None
    accuracy_change: float | None
    f1_macro: float | None
    f1_change: float | None
    samples: int


def macro_f1(labels: np.ndarray, predicted: np.ndarray) -> float:
    """scikit-learn's macro F1 over the classes that occur in ``labels`` or ``predicted``
    (0.0 for no inputs)."""
    from sklearn.metrics import f1_score

    if len(labels) == 0:
        return 0.0
    return float(f1_score(labels, predicted, average="macro", zero_division=0.0))


def _slice(inputs: Sequence[Any] | np.ndarray, start: int, stop: int) -> Any:
    return inputs[start:stop]


def _pass(test: SplitInputs, predictor: BasePredictor, chunks: list[Any]) -> Any:
    def run() -> None:
        for chunk in chunks:
            test.predict_proba(predictor, chunk)

    return run


def _change(value: float | None, baseline: float | None) -> float | None:
    return None if value is None or baseline is None else value - baseline


def _quality(
    variants: Sequence[Variant], test: SplitInputs
) -> tuple[list[float | None], list[float | None]]:
    """Each variant's test accuracy and macro F1 (None without labels)."""
    accuracy: list[float | None] = []
    f1: list[float | None] = []
    for v in variants:
        if test.labels is None:
            accuracy.append(None)
            f1.append(None)
            continue
        predicted = test.predict_proba(v.predictor).argmax(axis=1)
        accuracy.append(float(np.mean(predicted == test.labels)))
        f1.append(macro_f1(test.labels, predicted))
    return accuracy, f1


def _rounded(row: Row) -> dict[str, Any]:
    """The row as a dict, its numbers rounded to 6 decimals."""
    return {
        key: round(val, 6) if isinstance(val, float) else val for key, val in asdict(row).items()
    }


def compression_table(
    variants: Sequence[Variant],
    test: SplitInputs,
    *,
    latency_inputs: int = 100,
    batch: int = 64,
    repeats: int = 5,
) -> list[dict[str, Any]]:
    """Measure every variant; the first is the baseline the changes are relative to.
    Accuracy and F1 are None when ``test`` has no labels."""
    accuracy, f1 = _quality(variants, test)
    singles = [_slice(test.inputs, i, i + 1) for i in range(min(latency_inputs, len(test)))]
    batches = [_slice(test.inputs, s, s + batch) for s in range(0, len(test) - batch + 1, batch)][
        :8
    ] or [test.inputs]
    batch_size = len(batches[0])
    counted = sum(len(b) for b in batches)
    latency = time_calls(
        [_pass(test, v.predictor, singles) for v in variants], repeats=repeats, items=len(singles)
    )
    per_input = time_calls(
        [_pass(test, v.predictor, batches) for v in variants], repeats=repeats, items=counted
    )
    throughput = [t.inverse(MS, unit="/s") for t in per_input]
    rows = []
    for k, v in enumerate(variants):
        lat, tp = latency[k], throughput[k]
        row = Row(
            technique=v.technique,
            backend=v.predictor.backend,
            size_mb=v.size_bytes / 1e6,
            size_ratio=variants[0].size_bytes / max(v.size_bytes, 1),
            latency_p50_ms=lat.median,
            latency_q1_ms=lat.q1,
            latency_q3_ms=lat.q3,
            latency_spread_ms=lat.spread,
            latency_speedup=latency[0].median / lat.median,
            throughput_per_s=tp.median,
            throughput_q1_per_s=tp.q1,
            throughput_q3_per_s=tp.q3,
            throughput_spread_per_s=tp.spread,
            throughput_speedup=tp.median / throughput[0].median,
            batch_size=batch_size,
            repeats=lat.repeats,
            accuracy=accuracy[k],
            accuracy_change=_change(accuracy[k], accuracy[0]),
            f1_macro=f1[k],
            f1_change=_change(f1[k], f1[0]),
            samples=len(test),
        )
        rows.append(_rounded(row))
    return rows
