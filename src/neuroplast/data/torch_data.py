"""PyTorch datasets, batching and loaders for token sequences and images.

Text batches are padded only to the longest sequence in the batch (dynamic padding), and the
:class:`BucketBatchSampler` puts sequences of similar length together so that little padding
is needed. Image tensors are converted and normalised once, up front, and the image loader
fetches whole batches by fancy indexing instead of stacking one image at a time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from neuroplast.errors import ConfigError, DataError

__all__ = [
    "BucketBatchSampler",
    "ImageDataset",
    "TextDataset",
    "image_loader",
    "pad_collate",
    "text_loader",
]

NO_LABEL = -1  # label reported for unlabelled rows (``labels=None``)


def _labels_or_none(labels: np.ndarray | None, rows: int, what: str) -> np.ndarray | None:
    if labels is None:
        return None
    array = np.asarray(labels)
    if array.shape != (rows,):
        raise DataError(
            f"{what} got {rows} rows but labels of shape {array.shape}; pass one label per row"
        )
    return array.astype(np.int64, copy=False)


class TextDataset(Dataset[tuple[torch.Tensor, int]]):
    """Token id sequences (and labels); item ``i`` is ``(LongTensor ids, int label)``.

    The sequences are stored as one flat tensor with offsets, so an item is a cheap view.
    Unlabelled data (``labels=None``) reports the label ``-1``.
    """

    def __init__(self, token_ids: list[list[int]], labels: np.ndarray | None) -> None:
        self.lengths = np.fromiter((len(ids) for ids in token_ids), dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)
        flat = [token for ids in token_ids for token in ids]
        self._flat = torch.tensor(flat, dtype=torch.long)
        self.labels = _labels_or_none(labels, len(token_ids), "TextDataset")

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        start, end = self._offsets[index], self._offsets[index + 1]
        label = NO_LABEL if self.labels is None else int(self.labels[index])
        return self._flat[start:end], label


def pad_collate(
    batch: Sequence[tuple[torch.Tensor | Sequence[int], int]],
    *,
    pad_index: int = 0,
    min_length: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(ids, label)`` items into ``(LongTensor [B, T], LongTensor [B])``.

    ``T`` is the longest sequence in the batch but at least ``min_length`` (a convolution of
    width 5 needs ``min_length=5``). One preallocated tensor is filled through a boolean mask.
    """
    sequences = [torch.as_tensor(ids, dtype=torch.long) for ids, _ in batch]
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    width = max(int(lengths.max()) if len(sequences) else 0, min_length)
    padded = torch.full((len(sequences), width), pad_index, dtype=torch.long)
    if int(lengths.sum()):
        mask = torch.arange(width).unsqueeze(0) < lengths.unsqueeze(1)
        padded[mask] = torch.cat(sequences)
    labels = torch.tensor([label for _, label in batch], dtype=torch.long)
    return padded, labels


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose sequences have similar lengths.

    With ``shuffle``: shuffle all indices, cut them into chunks of
    ``batch_size * bucket_size_multiplier``, sort each chunk by length, cut it into batches and
    shuffle the order of all batches. The shuffle depends on ``seed`` and the epoch: each
    ``iter()`` uses the current epoch and then advances it, and ``set_epoch`` sets it (as
    ``DistributedSampler`` does). Without ``shuffle`` the batches follow the input order, so
    predictions line up with the rows.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        *,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        bucket_size_multiplier: int = 50,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1 or bucket_size_multiplier < 1:
            raise ConfigError(
                f"batch_size={batch_size} and bucket_size_multiplier={bucket_size_multiplier} "
                "must both be at least 1"
            )
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.bucket_size_multiplier = bucket_size_multiplier
        self.drop_last = drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self, epoch: int) -> list[list[int]]:
        """The batches of ``epoch`` (no side effects)."""
        n, size = len(self.lengths), self.batch_size
        rng = np.random.default_rng([self.seed, epoch])
        if not self.shuffle:
            order = np.arange(n)
            batches = [order[i : i + size] for i in range(0, n, size)]
        else:
            order = rng.permutation(n)
            chunk = size * self.bucket_size_multiplier
            batches = []
            for start in range(0, n, chunk):
                part = order[start : start + chunk]
                part = part[np.argsort(self.lengths[part], kind="stable")]
                batches.extend(part[i : i + size] for i in range(0, len(part), size))
        if self.drop_last and batches and len(batches[-1]) < size:
            batches.pop()
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return [batch.tolist() for batch in batches]

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.batches(self.epoch)
        self.epoch += 1
        return iter(batches)

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


class ImageDataset(Dataset[tuple[torch.Tensor, Any]]):
    """uint8 ``(N, C, H, W)`` images as normalised float32 ``((x / 255) - mean) / std``.

    ``dataset[i]`` is ``(tensor [C, H, W], int label)``; ``dataset[[i, j, ...]]`` is a whole
    batch ``(tensor [B, C, H, W], LongTensor [B])`` (what :func:`image_loader` uses).
    Unlabelled data (``labels=None``) reports the label ``-1``.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray | None,
        *,
        mean: float = 0.5,
        std: float = 0.5,
    ) -> None:
        array = np.asarray(images)
        if array.dtype != np.uint8 or array.ndim != 4:
            raise DataError(
                f"ImageDataset needs uint8 images shaped (N, C, H, W), got dtype {array.dtype} "
                f"and shape {array.shape}; use ImageData.images"
            )
        if std <= 0:
            raise ConfigError(f"std={std} must be positive")
        self.images = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        self.images.div_(255.0).sub_(mean).div_(std)
        checked = _labels_or_none(labels, len(array), "ImageDataset")
        fill = np.full(len(array), NO_LABEL, dtype=np.int64)
        self.labels = torch.from_numpy(fill if checked is None else checked.copy())
        self.has_labels = checked is not None

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: Any) -> tuple[torch.Tensor, Any]:
        if isinstance(index, int | np.integer):
            return self.images[index], int(self.labels[index])
        rows = torch.as_tensor(index, dtype=torch.long)
        return self.images[rows], self.labels[rows]


def text_loader(
    token_ids: list[list[int]],
    labels: np.ndarray | None,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    min_length: int = 1,
    pad_index: int = 0,
) -> DataLoader[tuple[torch.Tensor, int]]:
    """Dynamic-padding batches ``(LongTensor [B, T], LongTensor [B])`` of similar lengths.

    The sampler is ``loader.batch_sampler``; call its ``set_epoch`` to pin an epoch's order.
    """
    dataset = TextDataset(token_ids, labels)
    sampler = BucketBatchSampler(
        dataset.lengths.tolist(), batch_size=batch_size, shuffle=shuffle, seed=seed
    )
    collate = functools.partial(pad_collate, pad_index=pad_index, min_length=min_length)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=0)


def _as_is(batch: Any) -> Any:
    """The batch as the dataset returned it (it is already stacked)."""
    return batch


def image_loader(
    images: np.ndarray,
    labels: np.ndarray | None,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    mean: float = 0.5,
    std: float = 0.5,
) -> DataLoader[tuple[torch.Tensor, Any]]:
    """Batches ``(float32 [B, C, H, W], LongTensor [B])``; shuffled with a seeded generator."""
    if batch_size < 1:
        raise ConfigError(f"batch_size={batch_size} must be at least 1")
    dataset = ImageDataset(images, labels, mean=mean, std=std)
    # Equal "lengths" make the bucket sampler a plain shuffle whose order depends only on
    # (seed, epoch), so a resumed run sees the same batches as an uninterrupted one.
    sampler = BucketBatchSampler(
        [1] * len(dataset), batch_size=batch_size, shuffle=shuffle, seed=seed
    )
    # batch_size=None: each sampled index list goes to dataset[list] in one call.
    return DataLoader(dataset, sampler=sampler, batch_size=None, collate_fn=_as_is, num_workers=0)
