"""load_image_folder on small folders of real image files (its errors: the bad data file
table of test_data_tables.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from neuroplast.data import load_image_folder


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
