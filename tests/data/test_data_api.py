"""The two data records of neuroplast.data (its `__all__`: tests/test_public_api.py)."""

from __future__ import annotations

import numpy as np
import pytest

from neuroplast.data import ImageData, TextData
from neuroplast.errors import DataError


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
