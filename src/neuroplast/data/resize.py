"""Fit image batches to a pretrained backbone's input: resize to its side, grey to RGB.

A pretrained image network expects the resolution and the channels it was trained on
(EfficientNet-Lite0: 3 x 224 x 224). The data pipeline keeps images at their own size
(Fashion-MNIST: 1 x 28 x 28, so a batch stays small in memory and predictions take the
images users have); :func:`fit_to_backbone` turns a normalised batch into the backbone's
input one batch at a time. It is the first step of such a model's forward pass, so
training, evaluation, the Predictor, ONNX export, serving and GradCAM all see the same
preprocessing. The normalisation (``(x / 255 - mean) / std``) is done before, by the data
pipeline; bilinear resizing commutes with it, since it is affine.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from neuroplast.errors import ConfigError, DataError

__all__ = ["fit_to_backbone", "upscaled_side"]


def upscaled_side(image_size: int, *, native: int, max_factor: int = 8, multiple: int = 32) -> int:
    """The side to resize ``image_size`` images to: the backbone's ``native`` side, unless
    that is more than ``max_factor`` times the image (an 8x8 digit is not worth 224 pixels),
    rounded up to a ``multiple`` (the backbone's total stride) and at least one multiple."""
    if image_size < 1:
        raise ConfigError(f"image_size={image_size} must be at least 1 pixel")
    wanted = min(native, max_factor * image_size)
    return max(multiple, -(-wanted // multiple) * multiple)


def fit_to_backbone(
    x: Tensor, *, size: int, channels: int = 3, source: tuple[int, int] | None = None
) -> Tensor:
    """``[B, 1 or channels, H, W]`` normalised images as ``[B, channels, size, size]``.

    Grey images are resized first (one plane, a third of the work) and then repeated on every
    channel; the resize is bilinear without antialiasing (what ONNX's ``Resize`` does too).
    ``source`` is the input's ``(channels, side)`` when the caller knows it (a model from its
    config): then no shape is read from ``x``, so the function traces for FX and ONNX.
    """
    if source is None:
        if x.dim() != 4 or x.size(1) not in (1, channels) or x.size(2) != x.size(3):
            raise DataError(
                f"cannot fit images of shape {tuple(x.shape)} to a {channels}-channel "
                f"backbone; pass square images [batch, 1 or {channels}, side, side]"
            )
        source = (int(x.size(1)), int(x.size(2)))
    in_channels, side = source
    if in_channels not in (1, channels):
        raise ConfigError(f"{in_channels}-channel images cannot feed a {channels}-channel backbone")
    if side != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    if in_channels != channels:
        x = x.expand(-1, channels, -1, -1)
    return x
