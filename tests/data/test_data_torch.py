"""Datasets, padding, bucketing and loaders, checked on real data where it matters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroplast.data import (
    BucketBatchSampler,
    ImageData,
    ImageDataset,
    TextData,
    TextDataset,
    Tokenizer,
    image_loader,
    load_builtin,
    pad_collate,
    text_loader,
)
from neuroplast.errors import DataError


@pytest.fixture(scope="module")
def review_lengths() -> np.ndarray:
    data = load_builtin("rotten_tomatoes")
    assert isinstance(data, TextData)
    tokenizer = Tokenizer()
    return np.array([len(tokenizer.tokenize(text)) for text in data.texts])


def test_text_dataset_items() -> None:
    dataset = TextDataset([[5, 6, 7], [], [8]], np.array([1, 0, 1]))
    assert len(dataset) == 3
    ids, label = dataset[0]
    assert ids.dtype == torch.long and ids.tolist() == [5, 6, 7] and label == 1
    assert dataset[1][0].tolist() == [] and dataset[2][0].tolist() == [8]
    assert TextDataset([[1]], None)[0][1] == -1
    with pytest.raises(DataError, match="one label per row"):
        TextDataset([[1], [2]], np.array([0]))


def test_pad_collate_pads_to_the_longest_and_min_length() -> None:
    batch = [
        (torch.tensor([3, 4, 5]), 1),
        (torch.tensor([6]), 0),
        (torch.tensor([], dtype=torch.long), 1),
    ]
    ids, labels = pad_collate(batch)
    assert ids.dtype == torch.long and labels.dtype == torch.long
    assert ids.tolist() == [[3, 4, 5], [6, 0, 0], [0, 0, 0]]
    assert labels.tolist() == [1, 0, 1]
    wide, _ = pad_collate(batch, min_length=5, pad_index=9)
    assert wide.shape == (3, 5)
    assert wide[1].tolist() == [6, 9, 9, 9, 9]
    empty, _ = pad_collate([([], 0), ([], 1)])
    assert empty.shape == (2, 1)
    lists, _ = pad_collate([([1, 2], 0), ([3], 1)])
    assert lists.tolist() == [[1, 2], [3, 0]]


def test_bucket_sampler_covers_every_index_once_per_epoch(review_lengths: np.ndarray) -> None:
    sampler = BucketBatchSampler(review_lengths.tolist(), batch_size=32, seed=1)
    n = len(review_lengths)
    assert len(sampler) == -(-n // 32)
    epochs = []
    for _ in range(2):
        batches = list(sampler)
        assert len(batches) == len(sampler)
        flat = np.concatenate(batches)
        assert np.array_equal(np.sort(flat), np.arange(n))
        assert all(len(b) <= 32 for b in batches)
        epochs.append(batches)
    assert epochs[0] != epochs[1], "iterating again advances the epoch"
    sampler.set_epoch(0)
    assert list(sampler) == epochs[0], "set_epoch replays an epoch exactly"
    assert (
        BucketBatchSampler(review_lengths.tolist(), batch_size=32, seed=2).batches(0) != epochs[0]
    )


def test_bucket_sampler_pads_less_than_random_batches(review_lengths: np.ndarray) -> None:
    def padding(batches: list[list[int]] | list[np.ndarray]) -> float:
        cells = sum(len(b) * review_lengths[b].max() for b in batches)
        return 1 - review_lengths.sum() / cells

    bucketed = padding(BucketBatchSampler(review_lengths.tolist(), batch_size=32).batches(0))
    order = np.random.default_rng(0).permutation(len(review_lengths))
    random = padding([order[i : i + 32] for i in range(0, len(order), 32)])
    assert bucketed < 0.05 < 0.4 < random  # measured: 2.4% vs 50%


def test_bucket_sampler_drop_last_and_ordered_mode() -> None:
    lengths = [5, 1, 4, 2, 3, 9, 7]
    dropping = BucketBatchSampler(lengths, batch_size=3, drop_last=True)
    assert len(dropping) == 2
    assert all(len(b) == 3 for b in dropping)
    ordered = BucketBatchSampler(lengths, batch_size=3, shuffle=False)
    assert list(ordered) == [[0, 1, 2], [3, 4, 5], [6]]


def test_text_loader_batches(review_lengths: np.ndarray) -> None:
    ids = [[1] * int(n) for n in review_lengths[:500]]
    labels = np.arange(500) % 2
    loader = text_loader(ids, labels, batch_size=64, shuffle=True, seed=0, min_length=5)
    seen = 0
    for x, y in loader:
        assert x.dtype == torch.long and x.shape[1] >= 5 and x.shape[0] == y.shape[0]
        seen += len(y)
    assert seen == 500 and len(loader) == 8
    ordered = text_loader(ids, labels, batch_size=64, shuffle=False)
    in_order = torch.cat([y for _, y in ordered]).tolist()
    assert in_order == labels.tolist(), "unshuffled batches keep the input order"


def test_image_dataset_normalises_once() -> None:
    images = np.array([[[[0, 255], [51, 102]]]], dtype=np.uint8).repeat(3, axis=0)
    dataset = ImageDataset(images, np.array([2, 0, 1]), mean=0.5, std=0.25)
    x, y = dataset[0]
    assert x.shape == (1, 2, 2) and x.dtype == torch.float32 and y == 2
    assert x.flatten().tolist() == pytest.approx([-2.0, 2.0, -1.2, -0.4])
    xb, yb = dataset[[2, 0]]
    assert xb.shape == (2, 1, 2, 2) and yb.tolist() == [1, 2]
    with pytest.raises(DataError, match="uint8 images shaped"):
        ImageDataset(images.astype(np.float32), None)


def test_image_loader_on_digits_is_complete_and_seeded() -> None:
    digits = load_builtin("digits")
    assert isinstance(digits, ImageData)
    loader = image_loader(digits.images, digits.labels, batch_size=128, shuffle=True, seed=3)
    batches = list(loader)
    assert len(batches) == len(loader) == 15
    assert sorted(len(b[1]) for b in batches) == [1797 - 14 * 128] + [128] * 14
    x, y = next(b for b in batches if len(b[1]) == 128)
    assert x.shape == (128, 1, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.long
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0
    labels = torch.cat([y for _, y in batches])
    assert sorted(labels.tolist()) == sorted(digits.labels.tolist())
    again = image_loader(digits.images, digits.labels, batch_size=128, shuffle=True, seed=3)
    assert all(torch.equal(a[1], b[1]) for a, b in zip(again, batches, strict=True))
    ordered = image_loader(digits.images, None, batch_size=500, shuffle=False)
    xs, ys = next(iter(ordered))
    assert ys.tolist() == [-1] * 500
    assert torch.allclose(xs[0], torch.from_numpy(digits.images[0]).float() / 127.5 - 1)
