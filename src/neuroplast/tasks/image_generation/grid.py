"""Write generated images: a PNG grid and the raw array (``.npy``, float32 in [0, 1])."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from neuroplast.registry.artifacts import atomic_write_bytes

__all__ = ["grid_image", "write_samples"]

_PAD = 2


def grid_image(images: np.ndarray, columns: int | None = None) -> Image.Image:
    """``images`` [n, 1, h, w] in [0, 1] as one grayscale grid, ``_PAD`` pixels apart."""
    n, _, h, w = images.shape
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    canvas = np.full((rows * (h + _PAD) + _PAD, cols * (w + _PAD) + _PAD), 255, dtype=np.uint8)
    pixels = (np.clip(images[:, 0], 0.0, 1.0) * 255.0).round().astype(np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = _PAD + r * (h + _PAD), _PAD + c * (w + _PAD)
        canvas[top : top + h, left : left + w] = pixels[i]
    return Image.fromarray(canvas, mode="L")


def write_samples(images: np.ndarray, png: Path) -> tuple[Path, Path]:
    """The grid at ``png`` and the array beside it (same stem, ``.npy``), written atomically."""
    import io

    png.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    grid_image(images).save(buffer, format="PNG")
    atomic_write_bytes(png, buffer.getvalue())
    array = png.with_suffix(".npy")
    buffer = io.BytesIO()
    np.save(buffer, images.astype(np.float32), allow_pickle=False)
    atomic_write_bytes(array, buffer.getvalue())
    return png, array
