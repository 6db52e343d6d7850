"""Inference speed: eager PyTorch on ready tensors against the Predictor on raw inputs.

:func:`bench_registered` (``Engine.bench``, ``neuroplast bench``) runs it on a registered
version's test inputs and returns a :class:`BenchReport`.

Eager fp32 gets its inputs already tokenized and in tensors (the work a hand-written
serving loop would do beforehand is left out of its time); the Predictor gets raw texts or
uint8 images, so its time includes tokenization / pre-processing, batching and softmax.
Both run in the same process, interleaved repeat by repeat by
:func:`~neuroplast.inference.timing.time_calls`; each figure is a median with its spread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import nn

from neuroplast.inference.base import BasePredictor
from neuroplast.inference.bundle import LoadedModel
from neuroplast.inference.choice import cpu_model
from neuroplast.inference.inputs import model_data, split_inputs
from neuroplast.inference.registered import load_registered, registered_predictor
from neuroplast.inference.timing import MS, NOISY_SPREAD, Timing, time_call, time_calls

if TYPE_CHECKING:
    from neuroplast.inference.choice import ChoiceTable
    from neuroplast.registry import Registry

__all__ = [
    "BenchReport",
    "SpeedResult",
    "bench_registered",
    "eager_tensors",
    "flops_per_sample",
    "matmul_gflops",
    "speed_compare",
]


@dataclass(frozen=True)
class SpeedResult:
    """Batch-1 latency (ms per input) and batch throughput (inputs per second) of eager fp32
    and of the Predictor, each a :class:`~neuroplast.inference.timing.Timing`."""

    backend: str
    eager_batch1: Timing
    predictor_batch1: Timing
    eager_batch: Timing
    predictor_batch: Timing
    batch_size: int
    singles: int

    @property
    def repeats(self) -> int:
        return self.eager_batch1.repeats

    @property
    def batch1_speedup(self) -> float:
        return self.eager_batch1.median / self.predictor_batch1.median

    @property
    def batch_speedup(self) -> float:
        return self.predictor_batch.median / self.eager_batch.median

    @property
    def predictor_faster(self) -> dict[int, bool]:
        """Batch size -> the Predictor is faster than eager beyond the measured spread."""
        return {
            1: self.predictor_batch1.faster_than(self.eager_batch1),
            self.batch_size: self.predictor_batch.higher_than(self.eager_batch),
        }

    def rows(self) -> list[dict[str, Any]]:
        """The two measures, each with both timings (``Timing.to_dict``), the speed-up of the
        Predictor and whether it is faster beyond the spread."""
        faster = self.predictor_faster
        return [
            {
                "measure": "batch-1 latency",
                "batch_size": 1,
                "unit": "ms",
                "eager": self.eager_batch1.to_dict(),
                "predictor": self.predictor_batch1.to_dict(),
                "speedup": round(self.batch1_speedup, 6),
                "faster": faster[1],
            },
            {
                "measure": f"batch-{self.batch_size} throughput",
                "batch_size": self.batch_size,
                "unit": "/s",
                "eager": self.eager_batch.to_dict(),
                "predictor": self.predictor_batch.to_dict(),
                "speedup": round(self.batch_speedup, 6),
                "faster": faster[self.batch_size],
            },
        ]

    def warnings(self) -> list[str]:
        """Sentences for a Predictor not faster than eager fp32 at any batch size, and for
        timings too noisy to rank the two."""
        out = []
        if not any(self.predictor_faster.values()):
            out.append(
                f"the Predictor ({self.backend}) is not faster than eager fp32 "
                f"({self.batch1_speedup:.2f}x at batch 1, {self.batch_speedup:.2f}x at batch "
                f"{self.batch_size})"
            )
        timings = (self.eager_batch1, self.predictor_batch1, self.eager_batch, self.predictor_batch)
        share = max(t.relative_spread for t in timings)
        if share > NOISY_SPREAD:
            out.append(
                f"timings vary by up to ± {share:.0%} of their median between repeats: the "
                "machine was busy and the speed-ups are uncertain; measure again when it is "
                "quieter"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """Medians under the historical flat keys (``eager_batch1_ms`` ...), each with its
        ``*_spread`` (half the interquartile range), plus the speed-ups."""
        return {
            "backend": self.backend,
            "eager_batch1_ms": self.eager_batch1.median,
            "eager_batch1_spread_ms": self.eager_batch1.spread,
            "predictor_batch1_ms": self.predictor_batch1.median,
            "predictor_batch1_spread_ms": self.predictor_batch1.spread,
            "batch1_speedup": self.batch1_speedup,
            "eager_batch_per_s": self.eager_batch.median,
            "eager_batch_spread_per_s": self.eager_batch.spread,
            "predictor_batch_per_s": self.predictor_batch.median,
            "predictor_batch_spread_per_s": self.predictor_batch.spread,
            "batch_speedup": self.batch_speedup,
            "batch_size": self.batch_size,
            "repeats": self.repeats,
            "singles": self.singles,
        }


def eager_tensors(loaded: LoadedModel, inputs: Sequence[str] | np.ndarray) -> list[torch.Tensor]:
    """One model-ready tensor per input (token ids ``[1, T]`` or a normalised ``[1, C, H, W]``)."""
    if loaded.meta.modality == "text":
        if loaded.vocab is None:
            raise ValueError("a text model without a vocabulary")
        max_length = int(loaded.meta.preprocessing.get("max_length", 64))
        min_length = int(loaded.meta.preprocessing.get("min_length", 1))
        out = []
        for text in inputs:
            ids = loaded.vocab.encode(str(text), max_length=max_length)
            row = torch.zeros((1, max(min_length, len(ids))), dtype=torch.long)
            row[0, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            out.append(row)
        return out
    mean = float(loaded.meta.preprocessing.get("mean", 0.5))
    std = float(loaded.meta.preprocessing.get("std", 0.5))
    images = torch.from_numpy(np.asarray(inputs)).float()
    return list(((images / 255.0 - mean) / std).split(1))


def _stack(rows: list[torch.Tensor]) -> torch.Tensor:
    if rows[0].dtype != torch.long:
        return torch.cat(rows)
    width = max(r.size(1) for r in rows)
    batch = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        batch[i, : r.size(1)] = r[0]
    return batch


def speed_compare(
    loaded: LoadedModel,
    predictor: BasePredictor,
    inputs: Sequence[str] | np.ndarray,
    *,
    singles: int = 100,
    batch_size: int = 64,
    repeats: int = 5,
) -> SpeedResult:
    """Batch-1 latency (ms per input over ``singles`` inputs predicted one by one) and
    batch-``batch_size`` throughput of eager fp32 and of ``predictor``: after a warm-up,
    ``repeats`` interleaved rounds, reported as medians with their spread."""
    model: nn.Module = loaded.model.eval()
    tensors = eager_tensors(loaded, inputs)
    n_batches = max(1, len(inputs) // batch_size)
    raw_batches = [inputs[i * batch_size : (i + 1) * batch_size] for i in range(n_batches)]
    eager_batches = [
        _stack(tensors[i * batch_size : (i + 1) * batch_size]) for i in range(n_batches)
    ]
    raw_singles = [inputs[i : i + 1] for i in range(min(singles, len(inputs)))]
    eager_singles = tensors[: len(raw_singles)]

    def eager_pass(xs: list[torch.Tensor]) -> Any:
        def run() -> None:
            with torch.inference_mode():
                for x in xs:
                    model(x)

        return run

    def predictor_pass(chunks: list[Any]) -> Any:
        def run() -> None:
            for chunk in chunks:
                predictor.predict_proba(chunk)

        return run

    eager1, pred1 = time_calls(
        [eager_pass(eager_singles), predictor_pass(raw_singles)],
        repeats=repeats,
        items=len(raw_singles),
    )
    counted = sum(len(chunk) for chunk in raw_batches)
    eager_b, pred_b = (
        t.inverse(MS, unit="/s")
        for t in time_calls(
            [eager_pass(eager_batches), predictor_pass(raw_batches)],
            repeats=repeats,
            items=counted,
        )
    )
    return SpeedResult(
        backend=predictor.backend,
        eager_batch1=eager1,
        predictor_batch1=pred1,
        eager_batch=eager_b,
        predictor_batch=pred_b,
        batch_size=batch_size,
        singles=len(raw_singles),
    )


def flops_per_sample(model: nn.Module, batch: torch.Tensor) -> float:
    """Forward FLOPs per sample counted by ``torch.utils.flop_counter`` on ``batch``.

    Packed LSTMs are counted on the real (unpadded) steps, as they run; other text models
    on the batch's padded width.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model.eval()(batch)
    return float(counter.get_total_flops()) / batch.size(0)


def matmul_gflops(size: int = 1024, repeats: int = 15) -> float:
    """The machine's peak fp32 matmul GFLOP/s (best of ``repeats``) at torch's thread count."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    timing = time_call(lambda: a @ b, repeats=repeats, warmup=2, scale=1.0, unit="s")
    return 2 * size**3 / timing.best / 1e9


@dataclass(frozen=True)
class BenchReport:
    """What ``bench`` measured: ``speed`` (eager fp32 vs the Predictor at batch 1 and at
    ``speed.batch_size``), ``choices`` (what backend ``auto`` runs at each batch size; None
    for a named backend), the forward FLOPs per sample and the fp32 matmul peak."""

    model: str
    inputs: int
    speed: SpeedResult
    choices: ChoiceTable | None
    cpu: str
    torch_threads: int
    flops_per_sample: float
    matmul_gflops: float

    @property
    def achieved_gflops(self) -> float:
        """What the Predictor achieves at ``speed.batch_size``, in GFLOP/s."""
        return self.flops_per_sample * self.speed.predictor_batch.median / 1e9

    @property
    def achieved_fraction(self) -> float:
        """:attr:`achieved_gflops` as a share of the fp32 matmul peak."""
        return self.achieved_gflops / self.matmul_gflops

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``neuroplast bench --json`` (its shape: the command's help)."""
        return {
            "command": "bench",
            "model": self.model,
            "backend": self.speed.backend,
            "cpu": self.cpu,
            "inputs": self.inputs,
            "repeats": self.speed.repeats,
            "torch_threads": self.torch_threads,
            "rows": self.speed.rows(),
            "auto": None if self.choices is None else _auto_document(self.choices),
            "flops_per_sample": self.flops_per_sample,
            "matmul_gflops": self.matmul_gflops,
            "achieved_gflops": self.achieved_gflops,
            "achieved_fraction": self.achieved_fraction,
            "warnings": self.speed.warnings(),
        }


def _auto_document(choices: ChoiceTable) -> dict[str, Any]:
    return {
        "source": choices.source,
        "measured_at": choices.measured_at,
        "min_agreement": choices.min_agreement,
        "fingerprint": dict(choices.fingerprint),
        "summary": choices.summary(),
        "choices": [{**vars(c), "speedup": c.speedup} for c in choices.choices],
        "measured": [dict(vars(t)) for t in choices.measured],
    }


def _flops(loaded: LoadedModel, raw: Sequence[str]) -> float:
    """Forward FLOPs per sample of eager fp32 on the first 64 inputs (texts padded)."""
    sample = eager_tensors(loaded, raw[:64])
    width = max(t.shape[-1] for t in sample)
    if sample[0].dtype == torch.long:
        batch = torch.zeros((len(sample), width), dtype=torch.long)
        for i, t in enumerate(sample):
            batch[i, : t.size(1)] = t[0]
    else:
        batch = torch.cat(sample)
    return flops_per_sample(loaded.model, batch)


def bench_registered(
    registry: Registry,
    model: str,
    *,
    backend: str = "auto",
    inputs: int = 640,
    repeats: int = 5,
    threads: int | None = None,
    max_batch: int = 64,
    remeasure: bool = False,
) -> BenchReport:
    """Time ``model``'s Predictor on ``backend`` against eager fp32 on up to ``inputs`` of
    its test inputs (medians of ``repeats`` interleaved repeats). ``threads`` sets torch's
    and ONNX Runtime's threads (default: the physical cores); ``max_batch`` and
    ``remeasure`` are those of ``auto`` (see
    :func:`~neuroplast.inference.registered.registered_predictor`)."""
    if threads:
        torch.set_num_threads(threads)
    version, loaded = load_registered(registry, model)
    predictor = registered_predictor(
        registry,
        model,
        backend=backend,
        threads=threads,
        preloaded=(version, loaded),
        max_batch=max_batch,
        remeasure=remeasure,
    )
    loaded = getattr(predictor, "loaded", None) or loaded
    test = split_inputs(model_data(loaded.meta, loaded.vocab), "test", limit=inputs)
    raw = cast(Sequence[str], test.inputs)  # raw texts or uint8 images
    speed = speed_compare(loaded, predictor, raw, repeats=repeats)
    return BenchReport(
        model=version.ref,
        inputs=len(test),
        speed=speed,
        choices=predictor.table,
        cpu=cpu_model(),
        torch_threads=torch.get_num_threads(),
        flops_per_sample=_flops(loaded, raw),
        matmul_gflops=matmul_gflops(),
    )
