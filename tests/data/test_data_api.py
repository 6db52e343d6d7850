"""The public surface of neuroplast.data and the two data records."""

from __future__ import annotations

import numpy as np
import pytest

import neuroplast.data as data
from neuroplast.data import ImageData, TextData
from neuroplast.errors import DataError

EXPECTED = {
    "BucketBatchSampler",
    "DatasetInfo",
    "ImageData",
    "ImageDataset",
    "TextData",
    "TextDataset",
    "Tokenizer",
    "Vocabulary",
    "get_builtin_info",
    "image_loader",
    "list_builtin",
    "load_builtin",
    "load_image_folder",
    "load_table",
    "pad_collate",
    "stratified_split",
    "text_loader",
}


def test_all_lists_exactly_the_public_names_and_each_resolves() -> None:
    assert set(data.__all__) == EXPECTED
    for name in data.__all__:
        assert getattr(data, name) is not None, name
    assert set(data.__all__) <= set(dir(data))


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = data.nope


def test_text_data_record() -> None:
    record = TextData(["a", "b", "c"], np.array([0, 1, 1], dtype=np.int32), ["x", "y"], "mem")
    assert record.modality == "text"
    assert len(record) == 3
    assert record.labels.dtype == np.int64
    assert record.test_mask is None


def test_image_data_record() -> None:
    images = np.zeros((4, 1, 8, 8), dtype=np.uint8)
    record = ImageData(
        images, np.array([0, 1, 0, 1]), ["a", "b"], "mem", np.array([0, 0, 1, 1]) > 0
    )
    assert record.modality == "image"
    assert len(record) == 4
    assert record.image_shape == (1, 8, 8)


@pytest.mark.parametrize(
    ("labels", "names", "match"),
    [
        (np.array([0, 2]), ["a", "b"], "labels must be in 0..1"),
        (np.array([0]), ["a", "b"], "one label per row"),
        (np.array([0.0, 1.0]), ["a", "b"], "integer class indices"),
        (np.array([0, 1]), ["a", "a"], "duplicates"),
    ],
)
def test_text_data_rejects_inconsistent_fields(
    labels: np.ndarray, names: list[str], match: str
) -> None:
    with pytest.raises(DataError, match=match):
        TextData(["a", "b"], labels, names, "mem")


def test_image_data_rejects_wrong_dtype_and_mask() -> None:
    with pytest.raises(DataError, match="uint8 array shaped"):
        ImageData(np.zeros((2, 1, 4, 4)), np.array([0, 1]), ["a", "b"], "mem")
    with pytest.raises(DataError, match="boolean array of shape"):
        ImageData(
            np.zeros((2, 1, 4, 4), np.uint8), np.array([0, 1]), ["a", "b"], "mem", np.ones(3) > 0
        )
