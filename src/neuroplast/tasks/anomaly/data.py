"""Anomaly data: tabular rows, series windows or images, split into train (normal only),
validation and test.

Built in (read from files that installed packages ship, nothing downloaded):
``shuttle`` (river's Statlog Shuttle, 49,097 rows x 9, 3,511 anomalies), ``ecg_mitdb``
(sktime's MIT-BIH ECG, 7,500 points, 352 anomalous) and ``fashion_mnist`` (Debian's). Any
CSV / TSV / JSONL / Parquet file of numbers or a series, or an image folder, works too.

Labels (where there are any) remove anomalies from the training split and are kept for
validation (the threshold) and test (the metrics) only. Rows are split at random (seeded);
a series is split in time order (train, then validation, then test) and cut into windows.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from neuroplast.config import DataConfig
from neuroplast.errors import ConfigError, DataError, DatasetNotInstalledError
from neuroplast.tasks._tables import numeric_columns, read_table, require_columns
from neuroplast.tasks.anomaly.config import AnomalyConfig, InputKind

__all__ = ["BUILTIN", "AnomalySplits", "label_vector", "load_anomaly_data", "windows"]

#: built-in name -> (kind, package, its file inside that package)
BUILTIN: dict[str, tuple[InputKind, str, str]] = {
    "shuttle": ("tabular", "river", "datasets/shuttle.csv.gz"),
    "ecg_mitdb": ("series", "sktime", "datasets/data/mitdb/mitdb.csv"),
    "fashion_mnist": ("image", "", ""),
}
_BUILTIN_COLUMNS = {"shuttle": ("anomaly", None), "ecg_mitdb": ("label", "data")}
_INSTALL = {"river": "pip install 'river>=0.21'", "sktime": "pip install --no-deps sktime==1.2.0"}


@dataclass
class AnomalySplits:
    """Inputs as float arrays (rows x features, windows x points, or images N x C x H x W in
    0..1) and labels (1 = anomaly) where known."""

    kind: InputKind
    source: str
    columns: list[str]
    train: np.ndarray
    val: np.ndarray
    val_labels: np.ndarray | None
    test: np.ndarray
    test_labels: np.ndarray | None
    dropped_from_train: int = 0
    test_starts: np.ndarray | None = None  # series: each test window's first point


def _package_file(package: str, relative: str, name: str) -> Path:
    from importlib.util import find_spec

    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotInstalledError(
            f"built-in data set {name} needs the {package} package; install it with "
            f"`{_INSTALL[package]}`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise DatasetNotInstalledError(f"{path} is missing; reinstall it: `{_INSTALL[package]}`")
    return path


def _builtin_frame(name: str) -> pd.DataFrame:
    _, package, relative = BUILTIN[name]
    path = _package_file(package, relative, name)
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return pd.read_csv(handle)
    return pd.read_csv(path)


def label_vector(values: pd.Series, cfg: AnomalyConfig) -> np.ndarray:
    """1 where the label means anomaly (``anomaly.anomaly_values``, compared as lower-case
    text; whole numbers written 1.0 count as 1), else 0."""
    marks = {v.lower() for v in cfg.anomaly_values}
    text = values.astype(str).str.strip().str.lower().str.replace(r"\.0$", "", regex=True)
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise DataError(f"label column {values.name!r} is empty in data row {row + 1}; fill it")
    return text.isin(marks).to_numpy().astype(np.int64)


def _frame_and_columns(
    data: DataConfig, cfg: AnomalyConfig, kind: InputKind
) -> tuple[pd.DataFrame, str, str | None, str]:
    """The table, where it came from, its label column (or None) and its series column."""
    if data.dataset is not None:
        if data.dataset not in BUILTIN or BUILTIN[data.dataset][0] != kind:
            known = [n for n, v in BUILTIN.items() if v[0] == kind]
            raise ConfigError(
                f"data.dataset={data.dataset!r} is not a built-in {kind} anomaly set; choose "
                f"{' or '.join(known)}, or set data.path to your own file"
            )
        label, series = _BUILTIN_COLUMNS[data.dataset]
        return _builtin_frame(data.dataset), f"builtin:{data.dataset}", label, series or ""
    path = str(data.path)  # DataConfig requires data.dataset or data.path
    return read_table(path), path, cfg.label_column, cfg.series_column


def _random_split(n: int, data: DataConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.default_rng(data.seed).permutation(n)
    n_test, n_val = round(n * data.test_fraction), round(n * data.val_fraction)
    if min(n_test, n_val, n - n_test - n_val) < 1:
        raise DataError(f"{n} rows are too few to split into train, validation and test")
    return order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test]


def _tabular(data: DataConfig, cfg: AnomalyConfig) -> AnomalySplits:
    frame, source, label_col, _ = _frame_and_columns(data, cfg, "tabular")
    if data.limit is not None and data.limit < len(frame):
        frame = frame.sample(n=data.limit, random_state=data.seed).reset_index(drop=True)
    if label_col is not None:
        require_columns(frame, [label_col], source)
    columns = cfg.feature_columns or [c for c in frame.columns if c != label_col]
    x = numeric_columns(frame, columns, source)
    y = None if label_col is None else label_vector(frame[label_col], cfg)
    train, val, test = _random_split(len(x), data)
    dropped = 0
    if y is not None:
        dropped = int(y[train].sum())
        train = train[y[train] == 0]
    return AnomalySplits(
        "tabular",
        source,
        list(map(str, columns)),
        x[train],
        x[val],
        None if y is None else y[val],
        x[test],
        None if y is None else y[test],
        dropped,
    )


def windows(series: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows ``[n, window]`` of a 1-D series every ``stride`` points, and their starts."""
    if len(series) < window:
        raise DataError(
            f"the series has {len(series)} points, fewer than one window of {window}; lower "
            "anomaly.window or give a longer series"
        )
    starts = np.arange(0, len(series) - window + 1, stride)
    return np.stack([series[s : s + window] for s in starts]), starts


def _series(data: DataConfig, cfg: AnomalyConfig) -> AnomalySplits:
    frame, source, label_col, series_col = _frame_and_columns(data, cfg, "series")
    if data.limit is not None and data.limit < len(frame):  # the last points: the held-out end
        frame = frame.iloc[len(frame) - data.limit :].reset_index(drop=True)
    values = numeric_columns(frame, [series_col], source)[:, 0]
    points = None
    if label_col is not None:
        require_columns(frame, [label_col], source)
        points = label_vector(frame[label_col], cfg)
    n = len(values)
    n_test, n_val = round(n * data.test_fraction), round(n * data.val_fraction)
    cut_val, cut_test = n - n_test - n_val, n - n_test
    x, starts = windows(values, cfg.window, cfg.stride)
    ends = starts + cfg.window
    parts = [ends <= cut_val, (starts >= cut_val) & (ends <= cut_test), starts >= cut_test]
    if min(int(p.sum()) for p in parts) < 1:
        raise DataError(
            f"{source}: {n} points give too few windows of {cfg.window} for train, validation "
            "and test; lower anomaly.window / anomaly.stride or give a longer series"
        )
    y = None
    if points is not None:
        y = np.array([int(points[s : s + cfg.window].any()) for s in starts], dtype=np.int64)
    train = parts[0] if y is None else parts[0] & (y == 0)
    return AnomalySplits(
        "series",
        source,
        [series_col],
        x[train],
        x[parts[1]],
        None if y is None else y[parts[1]],
        x[parts[2]],
        None if y is None else y[parts[2]],
        0 if y is None else int((parts[0] & (y == 1)).sum()),
        starts[parts[2]],
    )


def _images(data: DataConfig, cfg: AnomalyConfig) -> AnomalySplits:
    from neuroplast.data import load_builtin, load_image_folder

    if cfg.normal_class is None:
        raise ConfigError("image anomaly detection needs anomaly.normal_class (a class index)")
    if data.dataset is not None and data.dataset != "fashion_mnist":
        raise ConfigError(
            f"data.dataset={data.dataset!r}: the built-in image set is fashion_mnist; or set "
            "data.path to an image folder"
        )
    if data.dataset is not None:
        images = load_builtin(data.dataset, limit=data.limit, seed=data.seed)
    else:
        images = load_image_folder(str(data.path))
    from neuroplast.data import ImageData

    if not isinstance(images, ImageData):
        raise ConfigError(f"{images.source} holds texts, not images")
    if cfg.normal_class >= images.num_classes:
        raise ConfigError(
            f"anomaly.normal_class={cfg.normal_class} but {images.source} has "
            f"{images.num_classes} classes (0..{images.num_classes - 1}: {images.label_names})"
        )
    x = images.images.astype(np.float32) / 255.0
    y = (images.labels != cfg.normal_class).astype(np.int64)
    rng = np.random.default_rng(data.seed)
    if images.test_mask is not None:
        pool, test = np.flatnonzero(~images.test_mask), np.flatnonzero(images.test_mask)
    else:
        order = rng.permutation(len(x))
        n_test = max(1, round(len(x) * data.test_fraction))
        pool, test = order[n_test:], order[:n_test]
    pool = rng.permutation(pool)
    n_val = max(1, round(len(pool) * data.val_fraction))
    val, train = pool[:n_val], pool[n_val:]
    train = train[y[train] == 0]
    name = images.label_names[cfg.normal_class]
    return AnomalySplits("image", images.source, [name], x[train], x[val], y[val], x[test], y[test])


def load_anomaly_data(data: DataConfig, cfg: AnomalyConfig, kind: InputKind) -> AnomalySplits:
    """The splits of the run's data for an architecture that reads ``kind`` inputs."""
    splits = {"tabular": _tabular, "series": _series, "image": _images}[kind](data, cfg)
    if len(splits.train) < 2:
        raise DataError(
            f"{splits.source}: only {len(splits.train)} normal training examples; the "
            "autoencoder needs normal data to learn from (check anomaly.label_column / "
            "anomaly_values, or give more data)"
        )
    if cfg.threshold == "f1" and (splits.val_labels is None or splits.val_labels.sum() == 0):
        raise DataError(
            f"{splits.source}: threshold: f1 needs anomalies in the validation split and it has "
            "none; use anomaly.threshold: fpr"
        )
    return splits
