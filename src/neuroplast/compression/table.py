"""The table a team reads to choose what to ship, measured on real test inputs.

One row per variant: size on disk, batch-1 latency p50 (each input predicted alone,
tokenization or pre-processing included), batch-64 throughput, test accuracy and macro F1,
each with its change against the first row (the parent, eager fp32). Rows are measured in
one process with the variants interleaved, so ratios hold even when the machine is shared.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from neuroplast.compression._data import SplitInputs
from neuroplast.inference._base import BasePredictor

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
    latency_speedup: float
    throughput_per_s: float
    throughput_speedup: float
    accuracy: float
    accuracy_change: float
    f1_macro: float
    f1_change: float
    samples: int


def macro_f1(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> float:
    scores = []
    for c in range(num_classes):
        tp = float(np.sum((predicted == c) & (labels == c)))
        fp = float(np.sum((predicted == c) & (labels != c)))
        fn = float(np.sum((predicted != c) & (labels == c)))
        if tp + fp + fn > 0:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def _slice(inputs: Sequence[str] | np.ndarray, start: int, stop: int) -> Any:
    return inputs[start:stop]


def compression_table(
    variants: Sequence[Variant],
    test: SplitInputs,
    *,
    latency_inputs: int = 100,
    batch: int = 64,
    repeats: int = 5,
) -> list[dict[str, Any]]:
    """Measure every variant; the first is the baseline the changes are relative to."""
    n_classes = len(variants[0].predictor.label_names)
    accuracy, f1 = [], []
    for v in variants:
        predicted = v.predictor.predict_proba(test.inputs).argmax(axis=1)
        accuracy.append(float(np.mean(predicted == test.labels)))
        f1.append(macro_f1(test.labels, predicted, n_classes))
    singles = [_slice(test.inputs, i, i + 1) for i in range(min(latency_inputs, len(test)))]
    batches = [_slice(test.inputs, s, s + batch) for s in range(0, len(test) - batch + 1, batch)][
        :8
    ] or [test.inputs]
    latency: list[list[float]] = [[] for _ in variants]
    throughput: list[list[float]] = [[] for _ in variants]
    for v in variants:  # warm-up
        for item in singles[:5]:
            v.predictor.predict_proba(item)
        v.predictor.predict_proba(batches[0])
    for _ in range(repeats):
        for k, v in enumerate(variants):
            times = []
            for item in singles:
                start = time.perf_counter()
                v.predictor.predict_proba(item)
                times.append(time.perf_counter() - start)
            latency[k].append(float(np.median(times)) * 1000.0)
            start = time.perf_counter()
            count = 0
            for chunk in batches:
                v.predictor.predict_proba(chunk)
                count += len(chunk)
            throughput[k].append(count / (time.perf_counter() - start))
    base_lat = float(np.median(latency[0]))
    base_tp = float(np.median(throughput[0]))
    rows = []
    for k, v in enumerate(variants):
        lat, tp = float(np.median(latency[k])), float(np.median(throughput[k]))
        row = Row(
            technique=v.technique,
            backend=v.predictor.backend,
            size_mb=v.size_bytes / 1e6,
            size_ratio=variants[0].size_bytes / max(v.size_bytes, 1),
            latency_p50_ms=lat,
            latency_speedup=base_lat / lat,
            throughput_per_s=tp,
            throughput_speedup=tp / base_tp,
            accuracy=accuracy[k],
            accuracy_change=accuracy[k] - accuracy[0],
            f1_macro=f1[k],
            f1_change=f1[k] - f1[0],
            samples=len(test),
        )
        rows.append(
            {
                key: round(val, 6) if isinstance(val, float) else val
                for key, val in asdict(row).items()
            }
        )
    return rows
