"""Training-time augmentation: seeded per (seed, epoch, index), label-preserving, train only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neuroplast.config import DataConfig, load_run_config
from neuroplast.data import ImageData, TextData
from neuroplast.data.augment import (
    AugmentConfig,
    AugmentedImageDataset,
    ImageAugmenter,
    flips_allowed,
    uniforms,
)
from neuroplast.data.prepare import prepare
from neuroplast.data.torch_data import ImageDataset
from neuroplast.errors import ConfigError, DataError
from neuroplast.training.sharding import shard_loader

OFF = {"padding": 0, "rotation": 0.0, "erase_p": 0.0, "hflip": False}


def _images(n: int = 12, seed: int = 0) -> np.ndarray:
    """uint8 [n, 1, 10, 10]: a bright off-centre box on black, so shifts and flips show."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 1, 10, 10), dtype=np.uint8)
    images[:, :, 2:6, 1:4] = rng.integers(100, 256, size=(n, 1, 4, 3), dtype=np.uint8)
    return images


def _pixels(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).float() / 255.0


def _image_data(n: int = 60) -> ImageData:
    images = _images(n)
    labels = np.arange(n) % 3
    return ImageData(images, labels, ["a", "b", "c"], source="boxes")


def test_the_random_numbers_depend_on_seed_epoch_and_index_only() -> None:
    a = uniforms(5, 2, np.array([0, 7, 9]))
    assert a.shape == (3, 9) and ((a >= 0) & (a < 1)).all()
    np.testing.assert_array_equal(a[1], uniforms(5, 2, np.array([7]))[0])
    assert not np.allclose(a, uniforms(5, 3, np.array([0, 7, 9])))
    assert not np.allclose(a, uniforms(6, 2, np.array([0, 7, 9])))
    many = uniforms(0, 0, np.arange(20000))
    assert abs(many.mean() - 0.5) < 0.01  # uniform, not stuck


def test_an_image_is_augmented_the_same_whatever_its_batch() -> None:
    augment = ImageAugmenter(AugmentConfig(), seed=3, hflip=True)
    x = _pixels(_images())
    whole = augment(x, np.arange(12), epoch=4)
    alone = augment(x[[5]], [5], epoch=4)
    torch.testing.assert_close(whole[5:6], alone, rtol=0, atol=0)
    torch.testing.assert_close(augment(x, np.arange(12), epoch=4), whole, rtol=0, atol=0)
    assert not torch.equal(augment(x, np.arange(12), epoch=5), whole)


def test_shape_dtype_range_and_the_input_is_left_alone() -> None:
    x = _pixels(_images())
    before = x.clone()
    out = ImageAugmenter(AugmentConfig(rotation=30, erase_p=1.0), seed=0, hflip=True)(
        x, np.arange(12), 0
    )
    assert out.shape == x.shape and out.dtype == x.dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.equal(x, before)


def test_the_crop_after_padding_is_an_exact_integer_shift() -> None:
    x = _pixels(_images())
    config = AugmentConfig(**{**OFF, "padding": 2})
    out = ImageAugmenter(config, seed=1, hflip=False)(x, np.arange(12), 0)
    u = uniforms(1, 0, np.arange(12))
    for i in range(12):
        dx, dy = (np.floor(u[i, :2] * 5) - 2).astype(int)
        expected = torch.zeros(10, 10)
        src = x[i, 0]
        ys, xs = slice(max(0, dy), 10 + min(0, dy)), slice(max(0, dx), 10 + min(0, dx))
        expected[ys, xs] = src[max(0, -dy) : 10 - max(0, dy), max(0, -dx) : 10 - max(0, dx)]
        torch.testing.assert_close(out[i, 0], expected, rtol=0, atol=1e-5)


def test_flips_mirror_about_half_of_the_images() -> None:
    x = _pixels(_images(200))
    out = ImageAugmenter(AugmentConfig(**{**OFF, "hflip": True}), seed=2, hflip=True)(
        x, np.arange(200), 0
    )
    flipped = [bool(torch.allclose(out[i], x[i].flip(-1), atol=1e-5)) for i in range(200)]
    kept = [bool(torch.allclose(out[i], x[i], atol=1e-5)) for i in range(200)]
    assert all(f != k for f, k in zip(flipped, kept, strict=True))
    assert 70 < sum(flipped) < 130


def test_erasing_blanks_one_box_within_the_area_limit() -> None:
    x = torch.ones(50, 1, 20, 20)
    config = AugmentConfig(**{**OFF, "erase_p": 1.0, "erase_area": 0.2})
    out = ImageAugmenter(config, seed=0, hflip=False)(x, np.arange(50), 0)
    blanked = (out == 0).float().mean(dim=(1, 2, 3))
    assert (blanked > 0).all() and (blanked <= 0.2 * 1.6).all()  # rounding of the box sides
    assert set(torch.unique(out).tolist()) == {0.0, 1.0}


def test_flips_only_where_the_classes_allow_them() -> None:
    assert flips_allowed(AugmentConfig(), "fashion_mnist")
    assert not flips_allowed(AugmentConfig(), "digits")
    assert not flips_allowed(AugmentConfig(), None)  # an image folder
    assert flips_allowed(AugmentConfig(hflip=True), "digits")


def test_augmented_batches_keep_their_labels_and_only_training_is_augmented() -> None:
    cfg = DataConfig(dataset="digits", augment="standard", val_fraction=0.2, test_fraction=0.2)
    data = prepare(cfg, raw=_image_data())
    train = data.loader("train", batch_size=8, shuffle=True, seed=4)
    plain = prepare(cfg.model_copy(update={"augment": "none"}), raw=_image_data())
    reference = plain.loader("train", batch_size=8, shuffle=True, seed=4)
    assert isinstance(train.dataset, AugmentedImageDataset)
    for (xa, ya), (xp, yp) in zip(train, reference, strict=True):
        assert torch.equal(ya, yp) and xa.shape == xp.shape
    assert not torch.equal(xa, xp)
    for loader in (
        data.loader("val", batch_size=8, shuffle=False),
        data.loader("train", batch_size=8, shuffle=False),
    ):
        assert type(loader.dataset) is ImageDataset


def test_one_process_of_two_sees_its_rows_of_the_single_process_batches() -> None:
    cfg = DataConfig(dataset="digits", augment="standard")
    data = prepare(cfg, raw=_image_data())
    single = data.loader("train", batch_size=6, shuffle=True, seed=9)
    for epoch in (0, 3):
        single.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
        whole = list(single)
        for rank in (0, 1):
            shard = shard_loader(
                data.loader("train", batch_size=6, shuffle=True, seed=9), rank, 2, train=True
            )
            shard.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
            for (xs, ys), (xw, yw) in zip(shard, whole, strict=True):
                torch.testing.assert_close(xs, xw[rank::2], rtol=0, atol=0)
                assert torch.equal(ys, yw[rank::2])


def test_augmenting_texts_or_bad_batches_is_an_error() -> None:
    texts = TextData(
        ["good", "bad", "fine", "poor"] * 10, np.array([0, 1] * 20), ["p", "n"], source="t"
    )
    with pytest.raises(ConfigError, match=r"transforms images.*set data.augment: none"):
        prepare(DataConfig(dataset="x", augment="standard"), raw=texts)
    augment = ImageAugmenter(AugmentConfig(), seed=0, hflip=False)
    with pytest.raises(DataError, match=r"float images shaped \[B, C, H, W\]"):
        augment(torch.zeros(3, 10, 10), [0, 1, 2], 0)
    with pytest.raises(DataError, match="2 indices for a batch of 3"):
        augment(torch.zeros(3, 1, 10, 10), [0, 1], 0)


def test_the_cli_override_and_its_validation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from neuroplast.config import template_text

    path = tmp_path / "cnn.yaml"
    path.write_text(template_text("image-cnn"))
    config = load_run_config(path, ["data.augment=standard", "data.augmentation.rotation=5"])
    assert config.data.augment == "standard" and config.data.augmentation.rotation == 5
    with pytest.raises(ConfigError, match="augment"):
        load_run_config(path, ["data.augment=heavy"])
    with pytest.raises(ConfigError, match="padding"):
        load_run_config(path, ["data.augmentation.padding=-1"])
