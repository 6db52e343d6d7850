"""The test split a registered model was trained without (real reviews / images)."""

from __future__ import annotations

import numpy as np

from neuroplast.config import DataConfig
from neuroplast.data.prepare import prepare
from neuroplast.inference import LoadedModel


def split_texts(loaded: LoadedModel, n: int) -> list[str]:
    data = prepare(DataConfig.model_validate(loaded.meta.data), vocab=loaded.vocab)
    return data.texts("test")[:n]


def split_images(loaded: LoadedModel, n: int) -> tuple[np.ndarray, np.ndarray]:
    data = prepare(DataConfig.model_validate(loaded.meta.data))
    idx = data.indices("test")[:n]
    return data.raw.images[idx], data.raw.labels[idx]
