"""Inference speed: eager PyTorch on ready tensors against the Predictor on raw inputs.

Eager fp32 gets its inputs already tokenized and in tensors (the work a hand-written
serving loop would do beforehand is left out of its time); the Predictor gets raw texts or
uint8 images, so its time includes tokenization / pre-processing, batching and softmax.
Both run in the same process, interleaved repeat by repeat; each figure is a median.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from neuroplast.inference._base import BasePredictor
from neuroplast.inference.bundle import LoadedModel

__all__ = ["SpeedResult", "eager_tensors", "flops_per_sample", "matmul_gflops", "speed_compare"]


@dataclass(frozen=True)
class SpeedResult:
    backend: str
    eager_batch1_ms: float
    predictor_batch1_ms: float
    batch1_speedup: float
    eager_batch_per_s: float
    predictor_batch_per_s: float
    batch_speedup: float
    batch_size: int
    repeats: int
    singles: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    """Batch-1 latency (median over ``singles`` inputs) and batch-``batch_size``
    throughput of eager fp32 and of ``predictor``, interleaved over ``repeats``."""
    model: nn.Module = loaded.model.eval()
    tensors = eager_tensors(loaded, inputs)
    n_batches = max(1, len(inputs) // batch_size)
    raw_batches = [inputs[i * batch_size : (i + 1) * batch_size] for i in range(n_batches)]
    eager_batches = [
        _stack(tensors[i * batch_size : (i + 1) * batch_size]) for i in range(n_batches)
    ]
    raw_singles = [inputs[i : i + 1] for i in range(min(singles, len(inputs)))]
    eager_singles = tensors[: len(raw_singles)]

    def eager_one(x: torch.Tensor) -> None:
        with torch.inference_mode():
            model(x)

    for i in range(3):  # warm-up
        eager_one(eager_singles[i % len(eager_singles)])
        predictor.predict_proba(raw_singles[i % len(raw_singles)])
    eager_one(eager_batches[0])
    predictor.predict_proba(raw_batches[0])
    e1, p1, eb, pb = [], [], [], []
    for _ in range(repeats):
        times = []
        for x in eager_singles:
            start = time.perf_counter()
            eager_one(x)
            times.append(time.perf_counter() - start)
        e1.append(float(np.median(times)))
        times = []
        for item in raw_singles:
            start = time.perf_counter()
            predictor.predict_proba(item)
            times.append(time.perf_counter() - start)
        p1.append(float(np.median(times)))
        start = time.perf_counter()
        for x in eager_batches:
            eager_one(x)
        eb.append(n_batches * batch_size / (time.perf_counter() - start))
        start = time.perf_counter()
        for chunk in raw_batches:
            predictor.predict_proba(chunk)
        pb.append(n_batches * batch_size / (time.perf_counter() - start))
    eager1, pred1 = float(np.median(e1)) * 1000, float(np.median(p1)) * 1000
    eager_b, pred_b = float(np.median(eb)), float(np.median(pb))
    return SpeedResult(
        backend=predictor.backend,
        eager_batch1_ms=eager1,
        predictor_batch1_ms=pred1,
        batch1_speedup=eager1 / pred1,
        eager_batch_per_s=eager_b,
        predictor_batch_per_s=pred_b,
        batch_speedup=pred_b / eager_b,
        batch_size=batch_size,
        repeats=repeats,
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
    for _ in range(2):
        a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / min(times) / 1e9
