"""Reading tables of numbers (CSV, TSV, JSONL, Parquet) with errors that say where and how to fix.

Used by the tasks for user files: anomaly rows, series. An empty file, a missing column, text
in a numeric column or an empty cell is a :class:`~neuroplast.errors.DataError` naming the
file, the column and the first offending row (data rows are numbered from 1, after the
header).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from neuroplast.errors import DataError

__all__ = ["numeric_columns", "read_table", "require_columns"]

_READERS = {".csv": ",", ".txt": ",", ".tsv": "\t"}


def read_table(path: str | Path) -> pd.DataFrame:
    """The rows of ``path`` (by its suffix: .csv / .tsv / .txt, .jsonl / .json, .parquet)."""
    file = Path(path).expanduser()
    if not file.exists():
        raise DataError(f"{file} not found; check the path (data.path or --file)")
    if not file.is_file():
        raise DataError(f"{file} is not a file; give a CSV, TSV, JSONL or Parquet file")
    if file.stat().st_size == 0:
        raise DataError(f"{file} is empty; it needs a header line and at least one row")
    suffix = file.suffix.lower()
    try:
        if suffix in _READERS:
            frame = pd.read_csv(file, sep=_READERS[suffix])
        elif suffix in (".jsonl", ".json"):
            frame = pd.read_json(file, lines=suffix == ".jsonl")
        elif suffix == ".parquet":
            frame = pd.read_parquet(file)
        else:
            raise DataError(
                f"{file}: unknown file type {suffix!r}; use .csv, .tsv, .jsonl or .parquet"
            )
    except pd.errors.EmptyDataError as e:
        raise DataError(f"{file} is empty; it needs a header line and at least one row") from e
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as e:
        raise DataError(f"{file} cannot be read as {suffix[1:]}: {e}") from e
    if frame.empty:
        raise DataError(f"{file} has a header but no rows; add data rows")
    return frame


def require_columns(frame: pd.DataFrame, columns: Sequence[str], source: object) -> None:
    """A :class:`DataError` naming the columns that ``frame`` lacks and those it has."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: no column {', '.join(map(repr, missing))}; the columns are "
            f"{', '.join(map(str, frame.columns))} (set the task's column keys to one of them)"
        )


def numeric_columns(frame: pd.DataFrame, columns: Sequence[str], source: object) -> np.ndarray:
    """The ``columns`` of ``frame`` as a float64 matrix [rows, columns]; text or an empty cell
    in any of them is a :class:`DataError` naming the column and the first bad row."""
    require_columns(frame, columns, source)
    out = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, name in enumerate(columns):
        raw = frame[name]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna().to_numpy() & raw.notna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{source}: column {name!r} holds text, not numbers: data row {row + 1} is "
                f"{raw.iloc[row]!r} ({int(bad.sum())} such cells); fix or drop those rows, or "
                "leave the column out"
            )
        empty = values.isna().to_numpy()
        if empty.any():
            row = int(np.flatnonzero(empty)[0])
            raise DataError(
                f"{source}: column {name!r} has {int(empty.sum())} empty cells (the first in "
                f"data row {row + 1}); fill or drop them"
            )
        out[:, j] = values.to_numpy(dtype=np.float64)
    if not np.isfinite(out).all():
        raise DataError(f"{source}: infinite values in {', '.join(columns)}; replace them")
    return out
