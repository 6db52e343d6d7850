"""Fashion-MNIST as image folders: 8 classes for the first model, 2 new ones for the update."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from neuroplast.data import ImageData, load_builtin
from tests.conftest import DEBIAN_DATA, load_debian_data

OLD = list(range(8))
NEW = [8, 9]


def write_folder(
    root: Path,
    classes: list[int],
    per_class: int,
    *,
    offset: int = 0,
    dataset: str = "fashion_mnist",
) -> Path:
    """``per_class`` real training images of each class as PNGs in ``root/<class name>/``."""
    data = load_debian_data(dataset) if dataset in DEBIAN_DATA else load_builtin(dataset)
    assert isinstance(data, ImageData)
    train = np.ones(len(data.labels), dtype=bool) if data.test_mask is None else ~data.test_mask
    for c in classes:
        rows = np.flatnonzero((data.labels == c) & train)[offset : offset + per_class]
        folder = root / data.label_names[c].replace("/", "_")
        folder.mkdir(parents=True, exist_ok=True)
        for row in rows:
            Image.fromarray(data.images[row, 0]).save(folder / f"{row}.png")
    return root


def train_config(name: str, folder: Path, epochs: int = 5) -> dict[str, object]:
    return {
        "name": name,
        "data": {"path": str(folder), "seed": 0, "val_fraction": 0.1, "test_fraction": 0.2},
        "model": {"architecture": "image_mlp", "hidden_dim": 256, "num_layers": 2},
        "train": {"epochs": epochs, "batch_size": 64, "seed": 0, "early_stopping": {"patience": 3}},
    }
