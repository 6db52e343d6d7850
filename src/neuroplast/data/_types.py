"""The two in-memory data records every loader returns: :class:`TextData` and :class:`ImageData`.

Both are frozen dataclasses over NumPy arrays. ``eq=False`` keeps identity comparison and
hashing: the generated ``__eq__`` would compare arrays element-wise and fail on ``bool()``.
``__post_init__`` checks that the fields agree with each other, so a record that exists is
always usable (labels in ``0..K-1``, one label per row, a boolean test mask of the right length).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuroplast.errors import DataError

__all__ = ["ImageData", "TextData"]


def _check_labels(labels: np.ndarray, label_names: list[str], rows: int, source: str) -> np.ndarray:
    """Return ``labels`` as int64 after checking shape and range against ``label_names``."""
    if len(label_names) != len(set(label_names)):
        raise DataError(
            f"label_names of {source} contain duplicates ({label_names}); give each class once"
        )
    array = np.asarray(labels)
    if array.ndim != 1 or len(array) != rows:
        raise DataError(
            f"labels of {source} have shape {array.shape} but there are {rows} rows; "
            "pass one label per row"
        )
    if array.dtype.kind not in "iu":
        raise DataError(
            f"labels of {source} have dtype {array.dtype}; pass integer class indices "
            "(use load_table or load_image_folder to encode names)"
        )
    array = array.astype(np.int64, copy=False)
    if rows and (array.min() < 0 or array.max() >= len(label_names)):
        raise DataError(
            f"labels of {source} range from {array.min()} to {array.max()} but there are "
            f"{len(label_names)} label names; labels must be in 0..{len(label_names) - 1}"
        )
    return array


def _check_test_mask(test_mask: np.ndarray | None, rows: int, source: str) -> np.ndarray | None:
    if test_mask is None:
        return None
    mask = np.asarray(test_mask)
    if mask.dtype != np.bool_ or mask.shape != (rows,):
        raise DataError(
            f"test_mask of {source} has dtype {mask.dtype} and shape {mask.shape}; "
            f"pass a boolean array of shape ({rows},) or None"
        )
    return mask


@dataclass(frozen=True, eq=False)
class TextData:
    """Texts with integer labels ``0..K-1``; ``label_names[k]`` names class ``k``."""

    texts: list[str]
    labels: np.ndarray
    label_names: list[str]
    source: str
    test_mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        labels = _check_labels(self.labels, self.label_names, len(self.texts), self.source)
        object.__setattr__(self, "labels", labels)
        mask = _check_test_mask(self.test_mask, len(self.texts), self.source)
        object.__setattr__(self, "test_mask", mask)

    @property
    def modality(self) -> str:
        return "text"

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def __len__(self) -> int:
        return len(self.texts)


@dataclass(frozen=True, eq=False)
class ImageData:
    """Images as uint8 ``(N, C, H, W)`` (``C`` is 1 for grayscale, 3 for RGB) with labels."""

    images: np.ndarray
    labels: np.ndarray
    label_names: list[str]
    source: str
    test_mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        if images.dtype != np.uint8 or images.ndim != 4:
            raise DataError(
                f"images of {self.source} have dtype {images.dtype} and shape {images.shape}; "
                "pass a uint8 array shaped (N, C, H, W)"
            )
        object.__setattr__(self, "images", images)
        labels = _check_labels(self.labels, self.label_names, len(images), self.source)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(
            self, "test_mask", _check_test_mask(self.test_mask, len(images), self.source)
        )

    @property
    def modality(self) -> str:
        return "image"

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        _, channels, height, width = self.images.shape
        return int(channels), int(height), int(width)

    def __len__(self) -> int:
        return len(self.images)
