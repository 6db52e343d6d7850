"""One table of a user stream (CSV / TSV / JSON lines / Parquet) as a :class:`Part`: texts,
pixel columns or numeric features, with its labels, task and split columns.

The kind is decided from the header alone (the first line of a CSV), before the rows are
read: a table with the text column holds texts; one without it holds numeric columns, read
by pandas' C parser as numbers (not as millions of Python strings). Numeric columns whose
count fits an image (``C x H x H``, ``C`` 1 or 3, or ``stream.image_shape``) and whose values
are whole numbers in 0..255 are pixels; others are features.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import logging
import lzma
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from neuroplast.continual._splits import split_codes
from neuroplast.continual.config import StreamConfig
from neuroplast.data.files import read_table
from neuroplast.data.labels import format_rows
from neuroplast.errors import DataError

__all__ = ["Part", "image_shape_for", "read_table_part"]

logger = logging.getLogger(__name__)
_OPEN: dict[str | None, Callable[..., IO[Any]]] = {
    None: open,
    ".gz": gzip.open,
    ".bz2": bz2.open,
    ".xz": lzma.open,
}


@dataclass
class Part:
    """The rows of one file or folder of a user stream, before labels are encoded."""

    kind: str  # "text" | "image" | "features"
    inputs: Any  # list[str] | uint8 [N, C, H, W] | float32 [N, D]
    labels: list[Any]
    source: str
    tasks: list[str] | None = None
    split: np.ndarray | None = None
    columns: list[str] = field(default_factory=list)
    where: Callable[[list[int]], str] | None = None  # 0-based positions -> "rows 3, 7"

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def describe(self) -> str:
        if self.kind == "text":
            return "texts"
        if self.kind == "image":
            c, h, w = self.inputs.shape[1:]
            return f"{c}x{h}x{w} images"
        return f"{len(self.columns)} numeric features"


def _suffixes(path: Path) -> tuple[str, str | None]:
    parts = [s.lower() for s in path.suffixes]
    if len(parts) >= 2 and parts[-1] in _OPEN:
        return parts[-2], parts[-1]
    return (parts[-1] if parts else ""), None


def _header(path: Path) -> list[str] | None:
    """The column names from the start of the file only; None when that cannot be read
    cheaply (the full read then reports what is wrong)."""
    ext, compression = _suffixes(path)
    try:
        if ext in (".csv", ".tsv"):
            with _OPEN[compression](path, "rt", encoding="utf-8-sig", newline="") as f:
                line = f.readline()
            return next(csv.reader([line], delimiter="\t" if ext == ".tsv" else ","), None)
        if ext in (".jsonl", ".ndjson"):
            with _OPEN[compression](path, "rt", encoding="utf-8-sig") as f:
                for line in f:
                    if line.strip():
                        record = json.loads(line)
                        return list(record) if isinstance(record, dict) else None
        if ext in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
    except (OSError, UnicodeDecodeError, ValueError, EOFError, ImportError, lzma.LZMAError):
        return None
    return None


def image_shape_for(count: int, given: list[int] | None) -> tuple[int, int, int] | None:
    """``given`` or the square ``(C, H, H)`` (``C`` 1 or 3) with ``count`` values."""
    if given is not None:
        c, h, w = given
        return (c, h, w)
    for channels in (1, 3):
        side = math.isqrt(count // channels)
        if count % channels == 0 and side * side * channels == count and side > 1:
            return (channels, side, side)
    return None


def _columns_error(path: Path, column: str, option: str, columns: list[str]) -> DataError:
    shown = ", ".join(repr(c) for c in columns[:8]) + (" ..." if len(columns) > 8 else "")
    return DataError(
        f"{path} has no {column!r} column (columns: {shown}); set stream.{option} to the "
        "column that holds it"
    )


def _kind(path: Path, columns: list[str], cfg: StreamConfig, with_task: bool) -> str:
    """ "text" or "numeric", from the header; the columns every kind needs are checked here,
    before any row is read."""
    if cfg.label_column not in columns:
        raise _columns_error(path, cfg.label_column, "label_column", columns)
    if with_task and cfg.task_column not in columns:
        raise _columns_error(path, cfg.task_column, "task_column", columns)
    has_text = cfg.text_column in columns
    if cfg.kind == "text" or (cfg.kind == "auto" and has_text):
        if not has_text:
            raise _columns_error(path, cfg.text_column, "text_column", columns)
        return "text"
    return "numeric"


def _value_columns(path: Path, columns: list[str], cfg: StreamConfig) -> list[str]:
    reserved = {cfg.label_column, cfg.task_column, cfg.split_column}
    if cfg.feature_columns is not None:
        missing = [c for c in cfg.feature_columns if c not in columns]
        if missing:
            raise _columns_error(path, missing[0], "feature_columns", columns)
        return list(cfg.feature_columns)
    values = [c for c in columns if c not in reserved and c != cfg.text_column]
    if not values:
        raise DataError(
            f"{path} has neither a {cfg.text_column!r} column of texts nor numeric input "
            f"columns (columns: {', '.join(columns)}); set stream.text_column, or add pixel "
            "or feature columns"
        )
    return values


def _read_rows(path: Path, reserved: list[str]) -> pd.DataFrame:
    """The whole table; a CSV / TSV through pandas' C parser with numbers parsed as numbers,
    indexed by the row numbers a person sees (the header is row 1)."""
    ext, _ = _suffixes(path)
    if ext not in (".csv", ".tsv"):
        return read_table(path)
    try:
        frame = pd.read_csv(
            path,
            sep="\t" if ext == ".tsv" else ",",
            dtype={c: str for c in reserved},
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8-sig",
        )
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError, OSError) as e:
        raise DataError(
            f"{path} cannot be parsed as {ext[1:].upper()} ({e}); check that every row has "
            "the header's number of fields"
        ) from e
    if len(frame) == 0:
        raise DataError(f"{path} has no data rows; add labelled rows below the header")
    return frame.set_axis(pd.RangeIndex(2, 2 + len(frame)))


def _numbers(path: Path, frame: pd.DataFrame, columns: list[str], where: Any) -> np.ndarray:
    """The input columns as float64 [N, D]; a value that is not a number, or a missing one,
    is an error naming its column and rows."""
    for column in columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            continue
        coerced = pd.to_numeric(values, errors="coerce")
        bad = np.flatnonzero(coerced.isna().to_numpy() & values.notna().to_numpy())
        if len(bad):
            raise DataError(
                f"{path} column {column!r} holds {values.iloc[bad[0]]!r} in {where([bad[0]])}, "
                "not a number: pixel and feature columns must be numeric (a column of texts "
                "is named by stream.text_column; stream.feature_columns lists the inputs)"
            )
    array = frame[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    empty = np.flatnonzero(np.isnan(array).any(axis=1))
    if len(empty):
        column = columns[int(np.flatnonzero(np.isnan(array[empty[0]]))[0])]
        raise DataError(
            f"{path} has empty input values in {len(empty)} rows ({where(empty[:10].tolist())}; "
            f"first in column {column!r}); fill them in or drop those rows"
        )
    return array


def _pixels(path: Path, array: np.ndarray, columns: list[str], cfg: StreamConfig) -> Any:
    """uint8 [N, C, H, W] when the columns are pixels (see the module doc), else None."""
    shape = image_shape_for(array.shape[1], cfg.image_shape)
    explicit = cfg.kind == "image" or cfg.image_shape is not None
    if cfg.kind == "features":
        return None
    if shape is None or math.prod(shape) != array.shape[1]:
        if not explicit:
            return None
        if shape is None:
            raise DataError(
                f"{path}: {array.shape[1]} pixel columns ({columns[0]}..{columns[-1]}) are not "
                "a square image (C x H x H with C = 1 or 3); set stream.image_shape: [C, H, W]"
            )
        raise DataError(
            f"{path}: stream.image_shape {list(shape)} needs {math.prod(shape)} pixel columns "
            f"but there are {array.shape[1]} ({columns[0]}..{columns[-1]}); fix "
            "stream.image_shape or list the pixel columns in stream.feature_columns"
        )
    pixel_like = bool(((array >= 0) & (array <= 255) & (array == np.round(array))).all())
    if not pixel_like:
        if not explicit:
            return None
        raise DataError(
            f"{path}: stream.kind image needs whole pixel values 0..255, but the columns hold "
            f"values from {array.min():g} to {array.max():g}; rescale them, or use "
            "stream.kind: features"
        )
    return array.astype(np.uint8).reshape(-1, *shape)


def read_table_part(path: Path, cfg: StreamConfig, *, with_task: bool) -> Part:
    """One table of a stream (``with_task``: it has a task column)."""
    if not path.is_file():
        read_table(path)  # its error says what the path is instead
    columns = _header(path)
    kind = "text" if columns is None else _kind(path, columns, cfg, with_task)
    reserved = [c for c in (cfg.label_column, cfg.task_column, cfg.split_column)]
    frame = read_table(path) if kind == "text" else _read_rows(path, reserved)
    columns = [str(c) for c in frame.columns]
    kind = _kind(path, columns, cfg, with_task)
    rows = frame.index.to_numpy()

    def where(positions: list[int]) -> str:
        return f"rows {format_rows([int(rows[p]) for p in positions])}"

    part = Part(kind, None, frame[cfg.label_column].tolist(), str(path), where=where)
    if with_task:
        part.tasks = [str(v).strip() for v in frame[cfg.task_column].tolist()]
    if cfg.split_column in columns:
        values = frame[cfg.split_column].tolist()
        part.split = split_codes(values, source=str(path), where=where)
    if kind == "text":
        part.inputs = [str(t) for t in frame[cfg.text_column].tolist()]
        return part
    inputs = _value_columns(path, columns, cfg)
    array = _numbers(path, frame, inputs, where)
    pixels = _pixels(path, array, inputs, cfg)
    if pixels is not None:
        part.kind, part.inputs = "image", pixels
    else:
        part.kind, part.inputs, part.columns = "features", array.astype(np.float32), inputs
    logger.info("%s: %d rows of %s", path, len(part), part.describe)
    return part
