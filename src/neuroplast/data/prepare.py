"""From a data config to split, encoded, batched data: the same steps at train and eval time.

Splits are a pure function of the data and ``data.seed``, so ``evaluate --split test``
re-creates exactly the test split a model was trained without.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from torch.utils.data import DataLoader

from neuroplast.config import DataConfig
from neuroplast.data import (
    ImageData,
    TextData,
    Vocabulary,
    image_loader,
    load_builtin,
    load_image_folder,
    load_table,
    stratified_split,
    text_loader,
)
from neuroplast.data.augment_config import AugmentConfig, flips_allowed
from neuroplast.data.files import SUPPORTED_TABLE_EXTENSIONS
from neuroplast.errors import ConfigError, DataError

__all__ = ["PreparedData", "Split", "as_test_set", "load_source", "prepare"]

logger = logging.getLogger(__name__)
Split = Literal["train", "val", "test"]
IMAGE_MEAN, IMAGE_STD = 0.5, 0.5


def load_source(
    cfg: DataConfig, *, label_names: list[str] | None = None, path: str | None = None
) -> TextData | ImageData:
    """The raw data a config names: a built-in data set, a table file or an image folder."""
    where = path or cfg.path
    if where is None:
        if cfg.dataset is None:
            raise ConfigError("data: set data.dataset or data.path")
        return load_builtin(cfg.dataset, limit=cfg.limit, seed=cfg.seed)
    source = Path(where)
    if source.is_dir():
        if source.suffix.lower() in SUPPORTED_TABLE_EXTENSIONS:
            raise DataError(
                f"data path {source} is a directory, not a {source.suffix} file; pass the table "
                "file itself, or a folder of images (one subfolder per class)"
            )
        return load_image_folder(source)
    return load_table(
        source, text_column=cfg.text_column, label_column=cfg.label_column, label_names=label_names
    )


@dataclass
class PreparedData:
    """Data split three ways, with a vocabulary (text) fitted on the training split only."""

    raw: TextData | ImageData
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    vocab: Vocabulary | None
    max_length: int
    ids: list[list[int]] | None = None
    #: ``data.augmentation`` when ``data.augment`` is on, with whether flips are allowed
    augment: tuple[AugmentConfig, bool] | None = None

    @property
    def modality(self) -> str:
        return self.raw.modality

    @property
    def label_names(self) -> list[str]:
        return list(self.raw.label_names)

    def indices(self, split: Split) -> np.ndarray:
        return {"train": self.train_idx, "val": self.val_idx, "test": self.test_idx}[split]

    def labels(self, split: Split) -> np.ndarray:
        return self.raw.labels[self.indices(split)]

    def texts(self, split: Split) -> list[str]:
        if not isinstance(self.raw, TextData):
            raise DataError("this data set holds images, not texts")
        return [self.raw.texts[i] for i in self.indices(split)]

    def image_shape(self) -> tuple[int, int, int]:
        if not isinstance(self.raw, ImageData):
            raise DataError("this data set holds texts, not images")
        c, h, w = self.raw.images.shape[1:]
        return int(c), int(h), int(w)

    def loader(
        self, split: Split, *, batch_size: int, shuffle: bool, seed: int = 0, min_length: int = 1
    ) -> DataLoader[Any]:
        idx = self.indices(split)
        labels = self.raw.labels[idx]
        if isinstance(self.raw, ImageData):
            if split == "train" and shuffle and self.augment is not None:
                return _augmented_loader(
                    self.raw.images[idx], labels, self.augment, batch_size, seed
                )
            return image_loader(
                self.raw.images[idx],
                labels,
                batch_size=batch_size,
                shuffle=shuffle,
                seed=seed,
                mean=IMAGE_MEAN,
                std=IMAGE_STD,
            )
        if self.ids is None:
            raise DataError("texts were not encoded: prepare() needs a vocabulary")
        ids = [self.ids[i] for i in idx]
        return text_loader(
            ids, labels, batch_size=batch_size, shuffle=shuffle, seed=seed, min_length=min_length
        )


def _augmented_loader(
    images: np.ndarray,
    labels: np.ndarray,
    augment: tuple[AugmentConfig, bool],
    batch_size: int,
    seed: int,
) -> DataLoader[Any]:
    """Training batches augmented as ``data.augmentation`` says, seeded by the run's seed."""
    from neuroplast.data.augment import ImageAugmenter, augmented_image_loader

    config, hflip = augment
    augmenter = ImageAugmenter(config, seed=seed, hflip=hflip)
    return augmented_image_loader(
        images, labels, augmenter, batch_size=batch_size, seed=seed, mean=IMAGE_MEAN, std=IMAGE_STD
    )


def _augmentation(cfg: DataConfig, data: TextData | ImageData) -> tuple[AugmentConfig, bool] | None:
    """What the training loader applies; augmenting texts is a ConfigError."""
    if cfg.augment == "none":
        return None
    if not isinstance(data, ImageData):
        raise ConfigError(
            f"data.augment={cfg.augment} transforms images, but {data.source} holds texts; "
            "set data.augment: none"
        )
    return cfg.augmentation, flips_allowed(cfg.augmentation, cfg.dataset)


def _rows_for_one(fraction: float) -> int:
    """The fewest rows of a class that give a split ``round(rows * fraction) >= 1`` row."""
    rows = max(1, math.floor(0.5 / fraction))
    while round(rows * fraction) < 1:
        rows += 1
    return rows


def _check_split_sizes(data: TextData | ImageData, cfg: DataConfig, *, val: int, test: int) -> None:
    """An empty validation or test split is a DataError that names the real cause: each
    class gives ``round(rows * fraction)`` of its rows to a split, so when every class has
    only a few rows, a split gets none (and a larger fraction would starve training)."""
    empty = [name for name, size in (("validation", val), ("test", test)) if size == 0]
    if not empty:
        return
    counts = np.bincount(data.labels, minlength=len(data.label_names))
    counts = counts[counts > 0]
    needed = max(3, _rows_for_one(cfg.val_fraction), _rows_for_one(cfg.test_fraction))
    splits = " and ".join(empty) + (" split is" if len(empty) == 1 else " splits are")
    raise DataError(
        f"{data.source}: the {splits} empty because there are too few rows per class: "
        f"{len(counts)} classes with a median of {int(np.median(counts))} rows (at most "
        f"{int(counts.max())}), and each class gives round(rows x fraction) of its rows to a "
        f"split (data.val_fraction={cfg.val_fraction}, data.test_fraction="
        f"{cfg.test_fraction}). Add rows (at least {needed} per class) or merge the rare "
        "classes"
    )


def prepare(
    cfg: DataConfig,
    *,
    vocab: Vocabulary | None = None,
    raw: TextData | ImageData | None = None,
) -> PreparedData:
    """Load (unless ``raw`` is given), split, fit or reuse a vocabulary, and encode."""
    data = raw if raw is not None else load_source(cfg)
    if len(np.unique(data.labels)) < 2:
        raise DataError(f"{data.source}: needs at least 2 classes, found 1")
    train_idx, val_idx, test_idx = stratified_split(
        data.labels,
        val_fraction=cfg.val_fraction,
        test_fraction=cfg.test_fraction,
        seed=cfg.seed,
        test_mask=data.test_mask,
    )
    _check_split_sizes(data, cfg, val=len(val_idx), test=len(test_idx))
    ids = None
    if isinstance(data, TextData):
        if vocab is None:
            vocab = Vocabulary.build(
                (data.texts[i] for i in train_idx),
                max_size=cfg.vocab.max_size,
                min_freq=cfg.vocab.min_freq,
                lowercase=cfg.vocab.lowercase,
            )
            logger.info(
                "vocabulary of %d tokens from %d training texts", len(vocab), len(train_idx)
            )
        ids = vocab.encode_batch(data.texts, max_length=cfg.max_length)
    return PreparedData(
        raw=data,
        train_idx=train_idx,
        val_idx=val_idx,
        test_idx=test_idx,
        vocab=vocab,
        max_length=cfg.max_length,
        ids=ids,
        augment=_augmentation(cfg, data),
    )


def as_test_set(
    raw: TextData | ImageData, *, vocab: Vocabulary | None, max_length: int
) -> PreparedData:
    """All of ``raw`` as the test split (for evaluating a trained model on another file)."""
    empty = np.empty(0, dtype=np.int64)
    ids = None
    if isinstance(raw, TextData):
        if vocab is None:
            raise DataError(
                "this text model has no vocabulary (it was trained on token ids through the "
                "Python API), so it cannot read raw text; feed it token ids instead"
            )
        ids = vocab.encode_batch(raw.texts, max_length=max_length)
    return PreparedData(
        raw=raw,
        train_idx=empty,
        val_idx=empty,
        test_idx=np.arange(len(raw.labels)),
        vocab=vocab,
        max_length=max_length,
        ids=ids,
    )
