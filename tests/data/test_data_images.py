"""load_image_folder on small folders of real image files, and its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from neuroplast.data import load_image_folder
from neuroplast.errors import DataError


def save(path: Path, mode: str = "L", size: tuple[int, int] = (6, 4), value: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    color: int | tuple[int, int, int] = value if mode == "L" else (value, 0, 255 - value)
    Image.new(mode, size, color).save(path)
    return path


def test_grayscale_folder_keeps_one_channel(tmp_path: Path) -> None:
    save(tmp_path / "cat" / "1.png", value=1)
    save(tmp_path / "cat" / "2.png", value=2)
    save(tmp_path / "dog" / "1.png", value=3)
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden").mkdir()
    data = load_image_folder(tmp_path)
    assert data.images.shape == (3, 1, 4, 6)
    assert data.images.dtype == np.uint8
    assert data.label_names == ["cat", "dog"]
    assert data.labels.tolist() == [0, 0, 1]
    assert data.images[:, 0, 0, 0].tolist() == [1, 2, 3]
    assert data.modality == "image" and data.source == str(tmp_path)


def test_colour_and_mixed_folders_become_rgb(tmp_path: Path) -> None:
    save(tmp_path / "a" / "x.png", mode="RGB", value=7)
    save(tmp_path / "b" / "y.jpg", mode="L", value=200)
    save(tmp_path / "b" / "z.png", mode="RGBA", value=9)
    data = load_image_folder(tmp_path)
    assert data.images.shape == (3, 3, 4, 6)
    assert data.images[0, :, 0, 0].tolist() == [7, 0, 248]
    assert abs(int(data.images[1, 0, 0, 0]) - 200) <= 2  # JPEG is lossy
    assert np.ptp(data.images[1, :, 0, 0]) == 0  # gray copied to the three channels


def test_numeric_class_folders_sort_by_value(tmp_path: Path) -> None:
    for name in ["10", "2", "1"]:
        save(tmp_path / name / "a.png")
    assert load_image_folder(tmp_path).label_names == ["1", "2", "10"]


def test_sixteen_bit_png_is_scaled(tmp_path: Path) -> None:
    for name, value in [("a", 65535), ("b", 256)]:
        path = tmp_path / name / "x.png"
        path.parent.mkdir()
        Image.fromarray(np.full((3, 3), value, dtype=np.uint16)).save(path)
    data = load_image_folder(tmp_path)
    assert data.images[:, 0, 0, 0].tolist() == [255, 1]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"image folder .*photos does not exist"):
        load_image_folder(tmp_path / "photos")


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"has no class subfolders\. put the images in one subfolder"
    ):
        load_image_folder(tmp_path)


def test_images_directly_in_the_folder(tmp_path: Path) -> None:
    save(tmp_path / "x.png")
    with pytest.raises(DataError, match=r"It holds 1 images directly.*one subfolder per class"):
        load_image_folder(tmp_path)


def test_class_folder_without_images(tmp_path: Path) -> None:
    save(tmp_path / "cat" / "1.png")
    (tmp_path / "dog").mkdir()
    (tmp_path / "dog" / "readme.md").write_text("hi")
    with pytest.raises(DataError, match=r"class folder .*dog has no images.*\.png"):
        load_image_folder(tmp_path)


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    save(tmp_path / "cat" / "1.png")
    (tmp_path / "dog").mkdir()
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"cannot read image .*dog/broken\.png.*replace the file"):
        load_image_folder(tmp_path)


def test_mixed_sizes_name_both_files(tmp_path: Path) -> None:
    save(tmp_path / "cat" / "1.png", size=(28, 28))
    save(tmp_path / "dog" / "big.png", size=(32, 30))
    with pytest.raises(
        DataError,
        match=r"cat/1\.png is 28x28 but .*dog/big\.png is 32x30; resize them all to one size",
    ):
        load_image_folder(tmp_path)


def test_single_class_folder(tmp_path: Path) -> None:
    save(tmp_path / "cat" / "1.png")
    with pytest.raises(DataError, match=r"single class \('cat'\); training needs at least 2"):
        load_image_folder(tmp_path)


def test_file_instead_of_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_image_folder(save(tmp_path / "x.png"))
