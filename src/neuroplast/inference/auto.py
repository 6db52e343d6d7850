"""Choosing a Predictor backend: by name, or ``"auto"``, which measures them.

``auto`` builds every backend that loads (eager fp32, eager dynamic int8, ONNX Runtime fp32
and int8), times each on a small sample of real inputs at batch 1 and on the whole sample at
once (:func:`~neuroplast.inference.timing.time_calls`: a warm-up, then three rounds with the
backends interleaved; medians and spreads), and keeps the fastest whose predicted labels
agree with eager fp32 on at least ``min_agreement`` of the sample. The measurements stay on
the predictor (``.timings``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, get_args

import numpy as np

from neuroplast.errors import ConfigError, NeuroplastError
from neuroplast.inference._base import BasePredictor
from neuroplast.inference.bundle import LoadedModel
from neuroplast.inference.timing import Timing, time_calls

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
    """What ``auto`` measured for one backend: medians in milliseconds (batch 1: per input;
    batch: the whole sample at once) with their spreads (half the interquartile range of
    the repeats), and the share of labels that agree with eager fp32."""

    backend: str
    batch1_ms: float
    batch_ms: float
    batch_size: int
    agreement: float
    chosen: bool = False
    batch1_spread_ms: float = 0.0
    batch_spread_ms: float = 0.0


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
    predictors: Sequence[BasePredictor],
    sample: Sequence[str] | np.ndarray,
    *,
    singles: int = 16,
    repeats: int = 3,
) -> list[tuple[Timing, Timing]]:
    """(ms per input at batch 1 over ``singles`` inputs, ms for the whole sample at once)
    of every predictor, interleaved over ``repeats`` rounds after a warm-up."""
    items = [sample[i : i + 1] for i in range(min(singles, len(sample)))]

    def one_by_one(predictor: BasePredictor) -> Callable[[], None]:
        def run() -> None:
            for item in items:
                predictor.predict_proba(item)

        return run

    def whole(predictor: BasePredictor) -> Callable[[], object]:
        return lambda: predictor.predict_proba(sample)

    batch1 = time_calls([one_by_one(p) for p in predictors], repeats=repeats, items=len(items))
    batch = time_calls([whole(p) for p in predictors], repeats=repeats)
    return list(zip(batch1, batch, strict=True))


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
    labels = [p.predict_proba(sample).argmax(axis=1) for p in candidates]
    timings: list[BackendTiming] = []
    measured = measure(candidates, sample)
    for k, (single, whole) in enumerate(measured):
        timings.append(
            BackendTiming(
                candidates[k].backend,
                single.median,
                whole.median,
                len(sample),
                float(np.mean(labels[k] == labels[0])),
                batch1_spread_ms=single.spread,
                batch_spread_ms=whole.spread,
            )
        )
    best = choose(timings, min_agreement)
    chosen = candidates[best]
    chosen.timings = [replace(t, chosen=i == best) for i, t in enumerate(timings)]
    logger.info(
        "backend auto chose %s: %s",
        chosen.backend,
        ", ".join(f"{t.backend} {t.batch1_ms:.2f} ms/{t.agreement:.0%}" for t in timings),
    )
    return chosen
