"""PNG pictures of image explanations: the image beside the image under its heat map."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from neuroplast.explain._results import ImageExplanation
from neuroplast.registry.artifacts import atomic_write_bytes

__all__ = ["overlay_array", "overlay_png", "save_overlay"]


def _rgb(image: np.ndarray) -> np.ndarray:
    """uint8 ``[C, H, W]`` (C = 1 or 3) to float ``[H, W, 3]`` in [0, 1]."""
    array = np.asarray(image, dtype=np.float64) / 255.0
    if array.ndim != 3 or array.shape[0] not in (1, 3):
        raise ValueError(f"expected an image [C, H, W] with 1 or 3 channels, got {array.shape}")
    return (
        np.repeat(array, 3, axis=0).transpose(1, 2, 0)
        if array.shape[0] == 1
        else array.transpose(1, 2, 0)
    )


def overlay_array(
    image: np.ndarray, heat: np.ndarray, *, scale: int = 8, alpha: float = 0.55
) -> np.ndarray:
    """uint8 RGB ``[H*scale, 2*W*scale, 3]``: the image, then the image under the heat map.

    The heat's positive part is scaled to [0, 1] by its maximum and drawn with the ``jet``
    colour map, blended in proportion to its strength so that cold areas keep the image.
    """
    from matplotlib import colormaps

    base = _rgb(image)
    positive = np.clip(np.asarray(heat, dtype=np.float64), 0.0, None)
    top = positive.max()
    strength = positive / top if top > 0 else positive
    colour = colormaps["jet"](strength)[..., :3]
    weight = alpha * strength[..., None]
    blended = base * (1.0 - weight) + colour * weight
    side = np.concatenate([base, blended], axis=1)
    side = np.repeat(np.repeat(side, scale, axis=0), scale, axis=1)
    return np.asarray(np.round(side * 255.0), dtype=np.uint8)


def overlay_png(explanation: ImageExplanation, *, scale: int = 8) -> bytes:
    """The overlay of ``explanation`` as PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(overlay_array(explanation.image, explanation.heat, scale=scale)).save(
        buffer, format="PNG"
    )
    return buffer.getvalue()


def save_overlay(path: str | Path, explanation: ImageExplanation, *, scale: int = 8) -> Path:
    """Write the overlay PNG atomically; returns the path."""
    target = Path(path)
    atomic_write_bytes(target, overlay_png(explanation, scale=scale))
    return target
