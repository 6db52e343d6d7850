"""Training-time image augmentation on tensors, seeded per (seed, epoch, image index).

``data.augment: standard`` applies, to the training split only, in this order:

1. one affine warp per image (``affine_grid`` + ``grid_sample``): a random crop after
   zero padding (an integer shift of up to ``padding`` pixels), a left-right flip where the
   classes allow it, and a rotation of up to ``rotation`` degrees;
2. random erasing: with probability ``erase_p`` a box of 2 % to ``erase_area`` of the image
   (aspect ratio 0.3 to 3.3) is set to black.

Every random number of image ``i`` in epoch ``e`` is a hash of ``(seed, e, i)`` (SplitMix64),
not a draw from a stream: an image looks the same whatever batch or process it lands in, so
a resumed run and a DDP run see exactly the images an uninterrupted single process sees.
The transforms work on pixels in ``[0, 1]`` and keep them there.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from neuroplast.data.augment_config import AugmentConfig, flips_allowed
from neuroplast.data.torch_data import BucketBatchSampler, ImageDataset
from neuroplast.errors import ConfigError, DataError

__all__ = [
    "AugmentConfig",
    "AugmentedImageDataset",
    "EpochSampler",
    "ImageAugmenter",
    "augmented_image_loader",
    "flips_allowed",
]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SLOTS = 9  # random numbers per image: shift x, shift y, flip, angle, erase (5)
_MIN_ERASE = 0.02


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (uint64 arithmetic wraps, as the algorithm wants)."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def _as_u64(values: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(values, dtype=np.int64)).view(np.uint64)


def uniforms(seed: int, epoch: int, indices: np.ndarray, slots: int = _SLOTS) -> np.ndarray:
    """``[len(indices), slots]`` floats in ``[0, 1)``, a pure function of (seed, epoch, index)."""
    with np.errstate(over="ignore"):
        key = _mix(_as_u64(seed) * _GOLDEN + np.uint64(1))
        key = _mix(key ^ (_as_u64(epoch) * _GOLDEN))
        rows = _mix(key ^ (_as_u64(indices) * _GOLDEN))[:, None]
        bits = _mix(rows + np.arange(1, slots + 1, dtype=np.uint64) * _GOLDEN)
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


class ImageAugmenter:
    """``augmenter(pixels[B, C, H, W] in [0, 1], indices[B], epoch) -> augmented pixels``.

    The output has the input's shape and dtype and stays in ``[0, 1]``; the input is not
    changed. ``indices`` are the images' positions in the training set.
    """

    def __init__(self, config: AugmentConfig, *, seed: int, hflip: bool) -> None:
        self.config = config
        self.seed = seed
        self.hflip = hflip

    def __call__(self, pixels: torch.Tensor, indices: Any, epoch: int) -> torch.Tensor:
        if pixels.ndim != 4 or not pixels.is_floating_point():
            raise DataError(
                f"augmentation needs float images shaped [B, C, H, W], got {pixels.dtype} "
                f"{tuple(pixels.shape)}"
            )
        rows = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(rows) != pixels.shape[0]:
            raise DataError(f"{len(rows)} indices for a batch of {pixels.shape[0]} images")
        if not len(rows):
            return pixels.clone()
        draws = torch.from_numpy(uniforms(self.seed, epoch, rows)).to(pixels.dtype)
        out = self._warp(pixels, draws[:, :4])
        return self._erase(out, draws[:, 4:])

    def _warp(self, pixels: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Shift (crop after padding), flip and rotate, in one ``grid_sample``."""
        cfg = self.config
        _, _, height, width = pixels.shape
        shift_x = torch.floor(u[:, 0] * (2 * cfg.padding + 1)) - cfg.padding
        shift_y = torch.floor(u[:, 1] * (2 * cfg.padding + 1)) - cfg.padding
        flip = torch.where(u[:, 2] < 0.5, -1.0, 1.0) if self.hflip else torch.ones_like(u[:, 2])
        angle = (2 * u[:, 3] - 1) * math.radians(cfg.rotation)
        if not (shift_x.any() or shift_y.any() or (flip < 0).any() or angle.any()):
            return pixels.clone()
        cos, sin = torch.cos(angle), torch.sin(angle)
        # sampling position = R(angle) @ diag(flip, 1) @ output position - shift
        theta = torch.stack(
            [
                torch.stack([cos * flip, -sin, -2 * shift_x / width], dim=1),
                torch.stack([sin * flip, cos, -2 * shift_y / height], dim=1),
            ],
            dim=1,
        )
        grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
        warped = F.grid_sample(
            pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        return warped.clamp_(0.0, 1.0)

    def _erase(self, pixels: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Blank one box in each image whose draw falls under ``erase_p``."""
        cfg = self.config
        chosen = u[:, 0] < cfg.erase_p
        if not chosen.any():
            return pixels
        _, _, height, width = pixels.shape
        area = (_MIN_ERASE + u[:, 1] * (cfg.erase_area - _MIN_ERASE)) * height * width
        aspect = torch.exp(math.log(0.3) + u[:, 2] * (math.log(3.3) - math.log(0.3)))
        box_h = torch.sqrt(area * aspect).round().clamp(1, height)
        box_w = torch.sqrt(area / aspect).round().clamp(1, width)
        top = torch.floor(u[:, 3] * (height - box_h + 1))
        left = torch.floor(u[:, 4] * (width - box_w + 1))
        ys = torch.arange(height, dtype=pixels.dtype)[None, :, None]
        xs = torch.arange(width, dtype=pixels.dtype)[None, None, :]
        inside_y = (ys >= top[:, None, None]) & (ys < (top + box_h)[:, None, None])
        inside_x = (xs >= left[:, None, None]) & (xs < (left + box_w)[:, None, None])
        mask = inside_y & inside_x & chosen[:, None, None]
        return pixels.masked_fill(mask[:, None], 0.0)


class AugmentedImageDataset(ImageDataset):
    """An :class:`ImageDataset` whose batches are augmented for the current :attr:`epoch`.

    The stored images are normalised; a batch is taken back to pixels, augmented and
    normalised again. :class:`EpochSampler` sets :attr:`epoch` before each pass.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray | None,
        augmenter: ImageAugmenter,
        *,
        mean: float = 0.5,
        std: float = 0.5,
    ) -> None:
        super().__init__(images, labels, mean=mean, std=std)
        self.augmenter = augmenter
        self.mean, self.std = mean, std
        self.epoch = 0

    def __getitem__(self, index: Any) -> tuple[torch.Tensor, Any]:
        single = isinstance(index, int | np.integer)
        rows = np.asarray([index] if single else index, dtype=np.int64)
        images, labels = super().__getitem__(rows.tolist())
        pixels = images * self.std + self.mean
        out = (self.augmenter(pixels, rows, self.epoch) - self.mean) / self.std
        if single:
            return out[0], int(labels[0])
        return out, labels


class EpochSampler:
    """Wraps a :class:`BucketBatchSampler` and tells the dataset the epoch of each pass."""

    def __init__(self, sampler: BucketBatchSampler, dataset: AugmentedImageDataset) -> None:
        self.sampler = sampler
        self.dataset = dataset

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[list[int]]:
        self.dataset.epoch = self.sampler.epoch
        return iter(self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


def augmented_image_loader(
    images: np.ndarray,
    labels: np.ndarray | None,
    augmenter: ImageAugmenter,
    *,
    batch_size: int,
    seed: int = 0,
    mean: float = 0.5,
    std: float = 0.5,
) -> DataLoader[tuple[torch.Tensor, Any]]:
    """Shuffled, augmented training batches ``(float32 [B, C, H, W], LongTensor [B])``: the
    batch order of :func:`~neuroplast.data.image_loader` with the same seed."""
    if batch_size < 1:
        raise ConfigError(f"batch_size={batch_size} must be at least 1")
    dataset = AugmentedImageDataset(images, labels, augmenter, mean=mean, std=std)
    order = BucketBatchSampler([1] * len(dataset), batch_size=batch_size, shuffle=True, seed=seed)
    sampler = EpochSampler(order, dataset)
    return DataLoader(
        dataset,
        sampler=sampler,
        batch_size=None,
        collate_fn=_as_is,
        num_workers=0,
    )


def _as_is(batch: Any) -> Any:
    return batch
