"""EfficientNet-Lite0 as a user runs it: ``init --template image-efficientnet``, ``train
--set data.path=FOLDER`` on a folder of real images (8x8 digits, so the backbone runs at 64
pixels), ``predict``, ``export-onnx`` and an ONNX prediction that agrees with PyTorch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from neuroplast import Engine

CLASSES = ("zero", "one", "two")


@pytest.fixture()
def digits_folder(tmp_path: Path) -> Path:
    """10 real 8x8 digits a class, as grey PNG files in one subfolder per class."""
    digits = load_digits()
    root = tmp_path / "digits"
    for label, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        rows = np.flatnonzero(digits.target == label)[:10]
        for row in rows:
            pixels = np.rint(digits.images[row] * (255 / 16)).astype(np.uint8)
            Image.fromarray(pixels, mode="L").save(root / name / f"{row}.png")
    return root


def _train_args(config: Path, folder: Path) -> list[str]:
    return [
        "train",
        str(config),
        "--set",
        f"data.path={folder}",
        "--set",
        "train.epochs=2",
        "--set",
        "data.val_fraction=0.2",
        "--set",
        "data.test_fraction=0.2",
    ]


@pytest.mark.slow
def test_init_train_predict_and_onnx_on_an_image_folder(
    home: Path, tmp_path: Path, digits_folder: Path, cli: Callable[..., Any]
) -> None:
    config = tmp_path / "img.yaml"
    assert cli("init", "--template", "image-efficientnet", "-o", str(config)).code == 0
    trained = cli(*_train_args(config, digits_folder))
    assert trained.code == 0, trained.err
    assert "registered fmnist-efficientnet:1" in trained.out + trained.err

    files = sorted((digits_folder / "two").glob("*.png"))[:3]
    predicted = cli("predict", "fmnist-efficientnet", *map(str, files))
    assert predicted.code == 0, predicted.err
    assert all(f.name in predicted.out for f in files)
    with Engine(home) as engine:
        meta = engine.model_manager.get_loaded("fmnist-efficientnet").meta
        assert meta.architecture == "efficientnet-lite0"
        assert meta.arch_config["image_size"] == 8 and meta.arch_config["in_channels"] == 1
        eager = engine.predict("fmnist-efficientnet", files)
    assert cli("export-onnx", "fmnist-efficientnet").code == 0
    with Engine(home) as engine:
        onnx = engine.predict("fmnist-efficientnet:2", files, backend="onnx")
    assert [p.label for p in onnx] == [p.label for p in eager]
    for a, b in zip(onnx, eager, strict=True):
        assert abs(a.probability - b.probability) < 1e-4


def test_an_image_size_that_does_not_fit_the_data_is_explained(
    home: Path, tmp_path: Path, digits_folder: Path, cli: Callable[..., Any]
) -> None:
    config = tmp_path / "img.yaml"
    assert cli("init", "--template", "image-efficientnet", "-o", str(config)).code == 0
    result = cli(*_train_args(config, digits_folder), "--set", "model.image_size=28")
    assert result.code == 2
    assert "model.image_size=28 but the data gives 8" in result.err
    result = cli(*_train_args(config, digits_folder), "--set", "model.resolution=100")
    assert result.code == 2
    assert "model.resolution=100 must be a multiple of 32" in result.err
