"""Choosing a Predictor backend: by name, or ``"auto"``, which measures them.

``auto`` builds every backend that loads (eager fp32, eager dynamic int8, ONNX Runtime fp32
and int8), times each on a small sample of real inputs at batch 1 and on the whole sample at
once, and keeps the fastest whose predicted labels agree with eager fp32 on at least
``min_agreement`` of the sample. The measurements stay on the predictor (``.timings``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from neuroplast.errors import ConfigError, NeuroplastError
from neuroplast.inference._base import BasePredictor
from neuroplast.inference.bundle import LoadedModel

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendTiming",
    "build_backend",
    "choose",
    "create_predictor",
]

logger = logging.getLogger(__name__)

Backend = Literal["auto", "torch", "torch-int8", "onnx", "onnx-int8"]
BACKENDS: tuple[str, ...] = get_args(Backend)


@dataclass(frozen=True)
class BackendTiming:
    """What ``auto`` measured for one backend (milliseconds; agreement with eager fp32)."""

    backend: str
    batch1_ms: float
    batch_ms: float
    batch_size: int
    agreement: float
    chosen: bool = False


def check_backend(backend: str) -> Backend:
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    return backend  # type: ignore[return-value]


def build_backend(
    loaded: LoadedModel,
    backend: str,
    *,
    onnx_model: bytes | None = None,
    onnx_int8: bytes | None = None,
    threads: int | None = None,
    batch_size: int = 256,
) -> BasePredictor:
    """One named backend. ONNX backends export the model in memory unless given its bytes."""
    check_backend(backend)
    if backend == "auto":
        raise ConfigError("build_backend builds one backend; use create_predictor for 'auto'")
    if backend in ("torch", "torch-int8"):
        from neuroplast.inference.predictor import Predictor

        return Predictor(loaded, batch_size=batch_size, quantized=backend == "torch-int8")
    from neuroplast.compression.onnx_export import export_onnx_bytes, quantize_onnx_int8
    from neuroplast.inference.onnx_predictor import OnnxPredictor

    if onnx_model is None:
        onnx_model = export_onnx_bytes(loaded.model, loaded.meta)
    int8 = backend == "onnx-int8"
    if int8 and onnx_int8 is None:
        onnx_int8 = quantize_onnx_int8(onnx_model)
    model = onnx_int8 if int8 and onnx_int8 is not None else onnx_model
    return OnnxPredictor(
        model, loaded.meta, loaded.vocab, int8=int8, threads=threads, batch_size=batch_size
    )


def measure(
    predictor: BasePredictor, sample: Sequence[str] | np.ndarray, *, singles: int = 16
) -> tuple[float, float, np.ndarray]:
    """(batch-1 median ms over ``singles`` inputs, whole-sample median ms, probabilities)."""
    items = [sample[i : i + 1] for i in range(min(singles, len(sample)))]
    for item in items[:3]:
        predictor.predict_proba(item)  # warm-up
    single = []
    for item in items:
        start = time.perf_counter()
        predictor.predict_proba(item)
        single.append(time.perf_counter() - start)
    probs = predictor.predict_proba(sample)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        predictor.predict_proba(sample)
        times.append(time.perf_counter() - start)
    whole = float(np.median(times) * 1000.0)
    return float(np.median(single) * 1000.0), whole, probs


def choose(timings: Sequence[BackendTiming], min_agreement: float) -> int:
    """Index of the fastest timing (batch-1 and whole-sample time, each relative to the
    first, eager fp32, summed) among those agreeing with fp32 on ``min_agreement`` of the
    sample; the first is always eligible."""
    base = timings[0]

    def score(t: BackendTiming) -> float:
        return t.batch1_ms / base.batch1_ms + t.batch_ms / base.batch_ms

    eligible = [0] + [i for i, t in enumerate(timings) if i and t.agreement >= min_agreement]
    return min(eligible, key=lambda i: score(timings[i]))


def create_predictor(
    loaded: LoadedModel,
    *,
    backend: str = "auto",
    sample: Sequence[str] | np.ndarray | None = None,
    onnx_model: bytes | None = None,
    onnx_int8: bytes | None = None,
    threads: int | None = None,
    batch_size: int = 256,
    min_agreement: float = 0.99,
) -> BasePredictor:
    """A Predictor on ``backend``; ``"auto"`` measures every backend on ``sample`` (real
    inputs: texts, or uint8 images) and keeps the fastest that agrees with eager fp32."""
    check_backend(backend)
    if not 0.0 <= min_agreement <= 1.0:
        raise ConfigError(f"min_agreement must be a share in [0, 1], got {min_agreement}")
    options = {"onnx_model": onnx_model, "onnx_int8": onnx_int8, "threads": threads}
    if backend != "auto":
        return build_backend(loaded, backend, batch_size=batch_size, **options)  # type: ignore[arg-type]
    if sample is None or len(sample) == 0:
        raise ConfigError(
            "backend 'auto' measures the backends on real inputs: pass a sample "
            "(a few dozen texts or images like the ones you will predict)"
        )
    reference = build_backend(loaded, "torch", batch_size=batch_size)
    candidates: list[BasePredictor] = [reference]
    for name in ("torch-int8", "onnx", "onnx-int8"):
        try:
            candidates.append(build_backend(loaded, name, batch_size=batch_size, **options))  # type: ignore[arg-type]
        except (NeuroplastError, RuntimeError, ImportError) as e:
            logger.warning("backend %s is not available for this model: %s", name, e)
    ref_labels: np.ndarray | None = None
    timings: list[BackendTiming] = []
    for predictor in candidates:
        single, whole, probs = measure(predictor, sample)
        labels = probs.argmax(axis=1)
        if ref_labels is None:
            ref_labels = labels
        agreement = float(np.mean(labels == ref_labels))
        timings.append(BackendTiming(predictor.backend, single, whole, len(sample), agreement))
    best = choose(timings, min_agreement)
    chosen = candidates[best]
    chosen.timings = [
        BackendTiming(t.backend, t.batch1_ms, t.batch_ms, t.batch_size, t.agreement, i == best)
        for i, t in enumerate(timings)
    ]
    logger.info(
        "backend auto chose %s: %s",
        chosen.backend,
        ", ".join(f"{t.backend} {t.batch1_ms:.2f} ms/{t.agreement:.0%}" for t in timings),
    )
    return chosen
