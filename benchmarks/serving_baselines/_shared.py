"""What both baseline servers share with ``neuroplast serve``: the same registered version,
loaded by the same function (``neuroplast.serving._loading.load_predictor``) on the same
backend and warmed the same way, the same image decoding and the same answer shape. Only the
serving around the Predictor differs."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Loaded:
    model: str
    ref: str
    predictor: Any
    modality: str
    channels: int
    size: int


def load(home: Path, model: str, *, backend: str, max_batch: int) -> Loaded:
    """``model``'s production version (else its newest), as the server would load it."""
    from neuroplast.registry import Registry
    from neuroplast.serving._loading import input_spec, load_predictor, warm

    registry = Registry(home)
    ref = registry.resolve(model).ref
    predictor = load_predictor(registry, ref, backend=backend, max_batch=max_batch, threads=None)
    spec = input_spec(predictor)
    warm(predictor, spec, max_batch)
    return Loaded(model, ref, predictor, spec.modality, spec.channels or 1, spec.size or 28)


def decode_images(blobs: Sequence[bytes], *, channels: int, size: int) -> np.ndarray:
    """PNG/JPEG bytes -> uint8 [N, C, size, size], converted and resized like the server."""
    from PIL import Image

    arrays = []
    for data in blobs:
        with Image.open(io.BytesIO(data)) as opened:
            img = opened.convert("L" if channels == 1 else "RGB")
        if img.size != (size, size):
            img = img.resize((size, size), Image.Resampling.BILINEAR)
        arr = np.asarray(img, dtype=np.uint8)
        arrays.append(arr[None] if channels == 1 else arr.transpose(2, 0, 1))
    return np.stack(arrays)


def answer(loaded: Loaded, predictions: Sequence[Any]) -> dict[str, Any]:
    """The body ``neuroplast serve`` answers with (without its request id and timing)."""
    return {
        "model": loaded.model,
        "version": loaded.ref,
        "backend": str(loaded.predictor.backend),
        "predictions": [
            {
                "label": p.label,
                "probability": p.probability,
                "top_k": [{"label": lab, "probability": prob} for lab, prob in p.top_k],
            }
            for p in predictions
        ],
    }
