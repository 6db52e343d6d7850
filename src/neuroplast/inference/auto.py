"""Choosing a Predictor backend: by name, or ``"auto"``, which measures them at every batch
size it will serve and runs each batch on the fastest.

``auto`` builds every registered backend that loads (:mod:`neuroplast.inference.backends`:
eager fp32, eager dynamic int8, ONNX Runtime fp32 and int8) and times each *lane* (a backend
on one intra-op thread, or on all of them) on padded batches of real inputs at 1, 8, 32 and
64 inputs and at ``max_batch`` (:func:`~neuroplast.inference.timing.time_calls`: a warm-up,
then ``repeats`` rounds with the lanes interleaved; medians and spreads). On the same
batches it counts the labels each backend gives like eager fp32. The :class:`AutoPredictor`
it returns runs every batch on the fastest agreeing lane for the batch's size
(:mod:`neuroplast.inference.choice` has the rule and the table, which stays on the predictor
as ``.table``).

With ``cache_dir`` and ``model_uid`` the table is cached per machine (CPU model, thread
counts, backend versions, model version) in ``cache_dir/<key>.json`` and read back instead
of measured; ``remeasure=True`` measures again and replaces it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuroplast.errors import ConfigError, NeuroplastError
from neuroplast.inference._backends import (
    AUTO,
    BackendSource,
    check_backend,
    get_backend,
    list_backends,
)
from neuroplast.inference.base import BasePredictor
from neuroplast.inference.bundle import LoadedModel
from neuroplast.inference.choice import (
    BatchChoice,
    ChoiceTable,
    LaneTiming,
    cache_path,
    fingerprint,
    read_cached,
    write_cached,
)
from neuroplast.inference.timing import time_calls

__all__ = [
    "BASE_SIZES",
    "AutoPredictor",
    "Backend",
    "BatchChoice",
    "ChoiceTable",
    "LaneTiming",
    "build_backend",
    "check_backend",
    "create_predictor",
    "measure_lanes",
    "table_sizes",
]

logger = logging.getLogger(__name__)

#: A backend's name: ``"auto"`` or a registered one (:func:`~neuroplast.inference.list_backends`).
Backend = str
#: The batch sizes ``auto`` always measures below ``max_batch``.
BASE_SIZES = (1, 8, 32, 64)
#: The backend ``auto`` checks the others' labels against: eager fp32.
REFERENCE = "torch"
#: Lanes slower than this many times the fastest on the first timed round are not repeated.
SCREEN_FACTOR = 3.0

Inputs = Sequence[str] | np.ndarray


def table_sizes(max_batch: int) -> tuple[int, ...]:
    """The batch sizes ``auto`` measures: those of :data:`BASE_SIZES` below ``max_batch``,
    then ``max_batch``."""
    if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
        raise ConfigError(
            f"max_batch must be a whole number of inputs >= 1 (the largest batch the "
            f"predictor will serve), got {max_batch!r}"
        )
    return tuple(sorted({s for s in BASE_SIZES if s < max_batch} | {max_batch}))


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
    source = BackendSource(loaded, onnx_model, onnx_int8, threads, batch_size)
    return get_backend(backend).build(source)


class AutoPredictor(BasePredictor):
    """Runs each padded batch on the lane its :class:`~neuroplast.inference.choice.ChoiceTable`
    names for the batch's size; calls larger than the table's largest size are split into
    batches of that size (texts sorted by length first, as every backend does)."""

    backend = "auto"

    def __init__(
        self,
        backends: Mapping[str, BasePredictor],
        table: ChoiceTable,
        *,
        batch_size: int | None = None,
        loaded: LoadedModel | None = None,
    ) -> None:
        missing = [name for name in table.backends if name not in backends]
        if missing:
            raise ConfigError(f"the choice table runs {', '.join(missing)}, which was not built")
        first = backends[table.backends[0]]
        size = min(batch_size or table.max_batch, table.max_batch)
        super().__init__(first.meta, first.vocab, batch_size=size)
        #: The backends some batch size runs on, by name.
        self.backends = {name: backends[name] for name in table.backends}
        self.table = table
        self._table = table  # typed as never None, for run_logits
        self.loaded = loaded

    def run_logits(self, batch: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        choice = self._table.for_size(len(batch))
        lane = choice.threads if threads is None else threads
        return self.backends[choice.backend].run_logits(batch, threads=lane)

    def __repr__(self) -> str:
        name = self.meta.name or self.meta.architecture
        return f"AutoPredictor({name}, {self._table.summary()})"


def _tile(sample: Inputs, n: int) -> Inputs:
    """``n`` inputs: the sample, repeated as often as needed."""
    reps = math.ceil(n / len(sample))
    if isinstance(sample, np.ndarray):
        return np.concatenate([sample] * reps)[:n]
    return (list(sample) * reps)[:n]


def _lane_call(
    predictor: BasePredictor, threads: int, batches: list[np.ndarray]
) -> Callable[[], None]:
    def run() -> None:
        for batch in batches:
            predictor.run_logits(batch, threads=threads)

    return run


def measure_lanes(
    backends: Sequence[BasePredictor],
    sample: Inputs,
    *,
    sizes: Sequence[int],
    repeats: int = 5,
    min_agreement: float = 0.99,
) -> list[LaneTiming]:
    """Every lane of ``backends`` (the first is eager fp32, the reference) at every size:
    the sample, repeated up to a whole number of batches, cut in order into batches of the
    size, each padded on its own as a call of that many inputs would be. Per size: one
    untimed pass of every backend (its labels against the reference's), then
    :func:`~neuroplast.inference.timing.time_calls` over all lanes, interleaved: a warm-up
    and one timed round, then ``repeats`` rounds of the lanes within :data:`SCREEN_FACTOR`
    of the fastest lane agreeing on ``min_agreement`` of the labels (a lane several times
    slower keeps its one timing: on a busy 2-core machine, torch's two-thread lanes ran
    10-30x slower than the rest and took minutes)."""
    reference = backends[0]
    rows: list[LaneTiming] = []
    for size in sizes:
        inputs = _tile(sample, max(size, math.ceil(len(sample) / size) * size))
        batches = [
            batch
            for start in range(0, len(inputs), size)
            for _, batch in reference.batches(inputs[start : start + size], batch_size=size)
        ]
        expected = np.concatenate([reference.run_logits(b).argmax(axis=1) for b in batches])
        agreement = {reference.backend: 1.0}
        for predictor in backends[1:]:
            labels = np.concatenate([predictor.run_logits(b).argmax(axis=1) for b in batches])
            agreement[predictor.backend] = float(np.mean(labels == expected))
        lanes = [(p, t) for p in backends for t in p.thread_counts]
        calls = [_lane_call(p, t, batches) for p, t in lanes]
        timings = time_calls(calls, repeats=1, warmup=1, items=len(inputs))
        eligible = [
            t
            for (p, _), t in zip(lanes, timings, strict=True)
            if p is reference or agreement[p.backend] >= min_agreement
        ]
        fastest = min(t.median for t in eligible)
        kept = [i for i, t in enumerate(timings) if t.median <= SCREEN_FACTOR * fastest]
        repeated = time_calls(
            [calls[i] for i in kept], repeats=repeats, warmup=0, items=len(inputs)
        )
        for i, timing in zip(kept, repeated, strict=True):
            timings[i] = timing
        for (predictor, threads), timing in zip(lanes, timings, strict=True):
            rows.append(
                LaneTiming(
                    backend=predictor.backend,
                    threads=threads,
                    batch_size=size,
                    ms_per_input=timing.median,
                    spread_ms=timing.spread,
                    agreement=agreement[predictor.backend],
                    repeats=timing.repeats,
                )
            )
    return rows


def _machine_key(model_uid: str, sizes: Sequence[int], threads: int | None) -> dict[str, object]:
    import torch

    import neuroplast
    from neuroplast.inference.base import physical_cores
    from neuroplast.inference.onnx_predictor import onnxruntime_version

    return fingerprint(
        model_uid=model_uid,
        sizes=sizes,
        torch_threads=torch.get_num_threads(),
        onnx_threads=threads or physical_cores(),
        versions={
            "neuroplast": neuroplast.__version__,
            "torch": torch.__version__,
            "onnxruntime": onnxruntime_version(),
        },
    )


@dataclass
class _Builder:
    """Builds the backends of one model, exporting (and quantizing) its ONNX graph once."""

    source: BackendSource

    def __call__(self, name: str) -> BasePredictor:
        graph = get_backend(name).onnx
        if graph is not None:
            self.source.onnx(graph)  # made once, kept for the next backend
        return build_backend(
            self.source.loaded,
            name,
            onnx_model=self.source.onnx_model,
            onnx_int8=self.source.onnx_int8,
            threads=self.source.threads,
            batch_size=self.source.batch_size,
        )


def _from_cache(
    cached: Path, key: dict[str, object], build: _Builder, *, min_agreement: float, batch_size: int
) -> AutoPredictor | None:
    """The predictor of the table cached for this machine, or None when there is none (or
    one of its backends no longer builds)."""
    table = read_cached(cached, key, min_agreement=min_agreement)
    if table is None:
        return None
    try:
        built = {name: build(name) for name in table.backends}
    except (NeuroplastError, RuntimeError, ImportError) as e:
        logger.warning("cannot build a backend of the cached auto table (%s)", e)
        return None
    logger.info("backend auto (cached in %s): %s", cached, table.summary())
    return AutoPredictor(built, table, batch_size=batch_size, loaded=build.source.loaded)


def _candidates(build: _Builder) -> list[BasePredictor]:
    """Eager fp32 (the reference), then every other measured backend that builds."""
    candidates = [build(REFERENCE)]
    for name in list_backends(include_auto=False):
        if name == REFERENCE or not get_backend(name).measured:
            continue
        try:
            candidates.append(build(name))
        except (NeuroplastError, RuntimeError, ImportError) as e:
            logger.warning("backend %s is not available for this model: %s", name, e)
    return candidates


def create_predictor(
    loaded: LoadedModel,
    *,
    backend: str = AUTO,
    sample: Inputs | None = None,
    onnx_model: bytes | None = None,
    onnx_int8: bytes | None = None,
    threads: int | None = None,
    batch_size: int = 256,
    min_agreement: float = 0.99,
    max_batch: int = 64,
    repeats: int = 5,
    cache_dir: Path | None = None,
    model_uid: str | None = None,
    remeasure: bool = False,
) -> BasePredictor:
    """A Predictor on ``backend``. ``"auto"`` measures every backend at 1, 8, 32, 64 and
    ``max_batch`` inputs on ``sample`` (real inputs: texts, or uint8 images) and returns an
    :class:`AutoPredictor` that runs each batch on the fastest lane agreeing with eager fp32
    on at least ``min_agreement`` of the sample at that size; calls larger than ``max_batch``
    run in batches of ``max_batch`` (or of ``batch_size`` if smaller).

    With ``cache_dir`` and ``model_uid`` (the registered version's uid) the table is read
    from the per-machine cache when it holds one for this machine, thread counts, backend
    versions, model and sizes (no sample is needed then), and written there after measuring;
    ``remeasure=True`` measures again and replaces it."""
    check_backend(backend)
    if not 0.0 <= min_agreement <= 1.0:
        raise ConfigError(f"min_agreement must be a share in [0, 1], got {min_agreement}")
    build = _Builder(BackendSource(loaded, onnx_model, onnx_int8, threads, batch_size))
    if backend != AUTO:
        return build(backend)
    sizes = table_sizes(max_batch)
    cached: Path | None = None
    key: dict[str, object] = {}
    if cache_dir is not None and model_uid:
        key = _machine_key(model_uid, sizes, threads)
        cached = cache_path(cache_dir, key)
        if not remeasure:
            predictor = _from_cache(
                cached, key, build, min_agreement=min_agreement, batch_size=batch_size
            )
            if predictor is not None:
                return predictor
    if sample is None or len(sample) == 0:
        raise ConfigError(
            "backend 'auto' measures the backends on real inputs: pass a sample "
            "(a few dozen texts or images like the ones you will predict)"
        )
    candidates = _candidates(build)
    measured = measure_lanes(
        candidates, sample, sizes=sizes, repeats=repeats, min_agreement=min_agreement
    )
    table = ChoiceTable.from_measured(measured, min_agreement=min_agreement, fingerprint=key)
    if cached is not None:
        write_cached(cached, table)
    logger.info("backend auto: %s", table.summary())
    by_name = {p.backend: p for p in candidates}
    return AutoPredictor(by_name, table, batch_size=batch_size, loaded=loaded)
