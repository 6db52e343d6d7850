"""The ``data.augmentation`` section: how strong each training-time image transform is.

Kept apart from :mod:`neuroplast.data.augment` so that validating a run config does not
import torch.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FLIP_SAFE_DATASETS", "AugmentConfig", "flips_allowed"]

#: Built-in data sets whose classes survive a horizontal flip (a mirrored shirt is a shirt;
#: a mirrored digit is not a digit). ``hflip: null`` flips only these.
FLIP_SAFE_DATASETS = frozenset({"fashion_mnist"})


class AugmentConfig(BaseModel):
    """Strength of each transform of ``data.augment: standard`` (training split only)."""

    model_config = ConfigDict(extra="forbid")

    padding: int = Field(
        2, ge=0, le=16, description="random crop: pad by this many pixels, crop back to size"
    )
    hflip: bool | None = Field(
        None,
        description=(
            "flip half of the images left-right; null = only where the classes allow it "
            "(the built-in fashion_mnist; never digits or image folders)"
        ),
    )
    rotation: float = Field(10.0, ge=0.0, le=180.0, description="rotate by up to +- degrees")
    erase_p: float = Field(
        0.25, ge=0.0, le=1.0, description="random erasing: share of images with a box blanked"
    )
    erase_area: float = Field(
        0.15, gt=0.02, lt=1.0, description="random erasing: largest box, as a share of the image"
    )


def flips_allowed(config: AugmentConfig, dataset: str | None) -> bool:
    """``config.hflip``, or for ``null`` whether the built-in ``dataset`` is flip-safe."""
    if config.hflip is not None:
        return config.hflip
    return dataset in FLIP_SAFE_DATASETS
