"""The real inputs compression measures on: a registered model's own splits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroplast.config import DataConfig
from neuroplast.data import ImageData, TextData
from neuroplast.errors import ConfigError
from neuroplast.inference._meta import ModelMeta
from neuroplast.tokens import Vocabulary
from neuroplast.workflows.prepare import PreparedData, Split, prepare

__all__ = ["SplitInputs", "model_data", "split_inputs"]


@dataclass(frozen=True)
class SplitInputs:
    """Raw inputs of one split (texts, or uint8 images ``[N, C, H, W]``) and their labels."""

    inputs: list[str] | np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, n: int) -> SplitInputs:
        return SplitInputs(self.inputs[:n], self.labels[:n])


def model_data(meta: ModelMeta, vocab: Vocabulary | None) -> PreparedData:
    """The splits the model was trained on, re-created from its data config (the same
    seed and limit, so the test split holds no training example)."""
    if not meta.data:
        raise ConfigError(
            f"{meta.name or meta.architecture} was trained on data neuroplast did not load "
            "(Python API loaders), so there is no test split to measure compression on"
        )
    cfg = DataConfig.model_validate(meta.data)
    return prepare(cfg, vocab=vocab)


def split_inputs(data: PreparedData, split: Split, *, limit: int | None = None) -> SplitInputs:
    idx = data.indices(split)[:limit]
    labels = data.raw.labels[idx]
    if isinstance(data.raw, TextData):
        return SplitInputs([data.raw.texts[i] for i in idx], labels)
    if isinstance(data.raw, ImageData):
        return SplitInputs(np.ascontiguousarray(data.raw.images[idx]), labels)
    raise ConfigError(f"unsupported data {type(data.raw).__name__}")
