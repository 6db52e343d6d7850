"""Checks on image batches, shared by the image architectures."""

from __future__ import annotations

from torch import Tensor
from torch.fx._symbolic_trace import is_fx_symbolic_tracing

from neuroplast.errors import ConfigError, DataError

__all__ = ["check_images"]


def check_images(x: Tensor, in_channels: int, image_size: int | None = None) -> None:
    """Raise a clear error unless ``x`` is ``[B, in_channels, H, W]`` (with H = W = image_size).

    Skipped while FX traces the model (static quantization), where shapes are symbolic.
    """
    if is_fx_symbolic_tracing():
        return
    if x.dim() != 4:
        raise DataError(
            f"image models take a batch of shape [batch, channels, height, width], got shape "
            f"{tuple(x.shape)}; add a batch dimension with x.unsqueeze(0)"
        )
    if x.size(1) != in_channels or (
        image_size is not None and (x.size(2), x.size(3)) != (image_size, image_size)
    ):
        expected = f"[batch, {in_channels}, {image_size or 'H'}, {image_size or 'W'}]"
        raise ConfigError(
            f"images of shape {tuple(x.shape)} do not fit this model, which expects {expected}; "
            "resize or convert the images, or create the model with matching in_channels "
            "and image_size"
        )
