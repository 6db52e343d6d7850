"""Fashion-MNIST as float tensors in [0, 1]: training, validation and the official test set.

The validation images are a seeded ``data.val_fraction`` of the 60,000 training images;
``data.limit`` keeps a stratified subsample (every class) for a quick run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neuroplast.data import load_builtin
from neuroplast.errors import ConfigError, DataError
from neuroplast.tasks.image_generation.config import DATASETS

__all__ = ["ImageSplits", "load_splits", "to_unit"]


@dataclass
class ImageSplits:
    """The uint8 images, labels and row indices of each split; :meth:`split` converts one
    split to ``(images [n, 1, 28, 28] in [0, 1], labels [n])`` when asked."""

    pixels: np.ndarray
    labels: np.ndarray
    rows: dict[str, np.ndarray]
    label_names: list[str]
    source: str

    def split(self, name: str) -> tuple[Tensor, Tensor]:
        if name not in self.rows:
            raise ConfigError(f"split {name!r} is unknown; choose one of: {', '.join(self.rows)}")
        index = self.rows[name]
        return to_unit(self.pixels[index]), torch.from_numpy(self.labels[index].astype(np.int64))


def to_unit(images: np.ndarray) -> Tensor:
    """uint8 images as float32 in [0, 1]."""
    return torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0)


def load_splits(data: dict[str, Any]) -> ImageSplits:
    """The splits of the ``data:`` section (a dict as recorded with the version)."""
    name = data.get("dataset")
    if name not in DATASETS:
        raise ConfigError(
            f"data.dataset={name!r}: image generation trains on {', '.join(DATASETS)} "
            "(28x28 grayscale, ten classes); data.path is not supported for this task"
        )
    images = load_builtin(name, limit=data.get("limit"), seed=int(data.get("seed", 13)))
    pixels = getattr(images, "images", None)
    if pixels is None or pixels.shape[1:] != (1, 28, 28) or images.test_mask is None:
        raise DataError(f"{name} is not a 28x28 grayscale image set with a test split")
    test = images.test_mask
    rest = np.flatnonzero(~test)
    order = np.random.default_rng(int(data.get("seed", 13))).permutation(rest)
    n_val = max(1, round(len(order) * float(data.get("val_fraction", 0.1))))
    rows = {"train": np.sort(order[n_val:]), "val": np.sort(order[:n_val])}
    rows["test"] = np.flatnonzero(test)
    return ImageSplits(pixels, images.labels, rows, list(images.label_names), images.source)
