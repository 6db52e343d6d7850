"""The speed and size figures of a registered version, through the Predictor users run.

Batch-1 latency is the median of 30 single-input calls (after 3 warm-up calls); batch-64
throughput is 64 divided by the median time of one 64-input call (7 repeats). Sizes are
the bytes of the model's state dict as fp32 and after dynamic int8 quantization (Linear and
LSTM layers; embeddings and convolutions stay fp32, so a model made mostly of those barely
shrinks), serialised to memory.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neuroplast.config import RunConfig
from neuroplast.data import ImageData
from neuroplast.inference import Predictor
from neuroplast.inference.quantize import dynamic_int8
from neuroplast.inference.registered import load_registered
from neuroplast.inference.timing import time_call
from neuroplast.registry import Registry
from neuroplast.workflows import load_source

__all__ = ["BATCH", "Speed", "measure_version", "timing_inputs"]

BATCH = 64
MB = 1024 * 1024


@dataclass(frozen=True)
class Speed:
    latency_ms: float
    throughput: float
    size_fp32_mb: float
    size_int8_mb: float


def timing_inputs(config: RunConfig) -> Any:
    """64 raw inputs of the config's data (texts, or uint8 images): what the timings run."""
    raw = load_source(config.data)
    if isinstance(raw, ImageData):
        return np.asarray(raw.images[:BATCH])
    return list(raw.texts[:BATCH])


def _state_bytes(model: torch.nn.Module) -> int:
    buffer = io.BytesIO()  # written, never read back
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def measure_version(registry: Registry, ref: str, inputs: Any) -> Speed:
    """Latency, throughput and sizes of version ``ref`` (see the module doc)."""
    _, loaded = load_registered(registry, ref)
    predictor = Predictor(loaded, batch_size=BATCH)
    one = inputs[:1]
    latency = time_call(lambda: predictor.predict_proba(one), repeats=30, warmup=3)
    per_item = time_call(
        lambda: predictor.predict_proba(inputs), repeats=7, warmup=1, items=len(inputs), scale=1.0
    )
    fp32 = _state_bytes(loaded.model)
    int8 = _state_bytes(dynamic_int8(loaded.model))
    return Speed(
        latency_ms=round(latency.median, 4),
        throughput=round(1.0 / per_item.median, 1),
        size_fp32_mb=round(fp32 / MB, 3),
        size_int8_mb=round(int8 / MB, 3),
    )
