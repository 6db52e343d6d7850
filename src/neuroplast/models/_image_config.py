"""Keys shared by the image architectures."""

from __future__ import annotations

from pydantic import Field

from neuroplast.models._config import ArchConfig

__all__ = ["ImageArchConfig"]


class ImageArchConfig(ArchConfig):
    """Inputs are square images ``[B, in_channels, image_size, image_size]``."""

    image_size: int = Field(default=28, ge=1, description="Height and width of the images.")
    in_channels: int = Field(default=1, ge=1, description="Channels (1 grey, 3 RGB).")
