"""Fixed train / val / test assignments: a user stream's ``split`` column (or array), and a
split file for the built-in streams, so that a published protocol's exact rows are used."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from neuroplast.data.files import read_table
from neuroplast.data.labels import format_rows
from neuroplast.errors import DataError

__all__ = ["SPLIT_NAMES", "TEST", "TRAIN", "VAL", "read_split_file", "split_codes"]

TRAIN, VAL, TEST = 0, 1, 2
SPLIT_NAMES = ("train", "val", "test")
_ALIASES = {
    "train": TRAIN,
    "training": TRAIN,
    "val": VAL,
    "valid": VAL,
    "validation": VAL,
    "dev": VAL,
    "test": TEST,
    "testing": TEST,
}
_CODE_VALUES = {"0": TRAIN, "1": VAL, "2": TEST}  # integer codes (safetensors arrays)


def split_codes(
    values: Sequence[object],
    *,
    source: str,
    where: Callable[[list[int]], str] | None = None,
    integer_codes: bool = False,
) -> np.ndarray:
    """``train`` / ``val`` / ``test`` per row (case and surrounding spaces ignored; also
    ``validation``, ``dev``...) as codes 0 / 1 / 2; with ``integer_codes`` the values may be
    the codes themselves. Any other value is an error naming the rows."""
    codes = np.empty(len(values), dtype=np.int64)
    bad: dict[str, list[int]] = {}
    for i, value in enumerate(values):
        key = str(value).strip().lower()
        code = _ALIASES.get(key)
        if code is None and integer_codes:
            code = _CODE_VALUES.get(key)
        if code is None:
            bad.setdefault(str(value), []).append(i)
            continue
        codes[i] = code
    if bad:
        first, positions = next(iter(bad.items()))
        shown = where(positions[:10]) if where is not None else f"rows {format_rows(positions)}"
        others = f" (and {len(bad) - 1} other values)" if len(bad) > 1 else ""
        accepted = "train, val or test" + (" (or 0, 1, 2)" if integer_codes else "")
        raise DataError(
            f"{source}: split value {first!r} in {shown}{others} is not one of {accepted}; "
            "fix those rows, or rename the column (stream.split_column) if it is not a split"
        )
    return codes


def read_split_file(path: str | Path, rows: int, *, data_name: str) -> np.ndarray:
    """The split code of each of the built-in data set's ``rows`` rows (-1: unused), from a
    table with a ``row`` column (0-based position in the data set) and a ``split`` column."""
    frame = read_table(path)
    missing = [c for c in ("row", "split") if c not in frame.columns]
    if missing:
        raise DataError(
            f"split file {path} has no {' or '.join(repr(c) for c in missing)} column (columns: "
            f"{', '.join(map(str, frame.columns))}); it needs `row` (0-based position in "
            f"{data_name}) and `split` (train, val or test)"
        )
    positions = frame["row"].tolist()
    try:
        index = np.array([int(str(v).strip()) for v in positions], dtype=np.int64)
    except ValueError as e:
        raise DataError(
            f"split file {path}: the row column must hold whole numbers (0-based positions "
            f"in {data_name}); {e}"
        ) from e
    outside = np.flatnonzero((index < 0) | (index >= rows))
    if len(outside):
        raise DataError(
            f"split file {path} names row {int(index[outside[0]])}, but {data_name} has rows "
            f"0..{rows - 1} ({len(outside)} rows outside that range); check it was written for "
            f"{data_name}"
        )
    unique, counts = np.unique(index, return_counts=True)
    if (counts > 1).any():
        raise DataError(
            f"split file {path} lists row {int(unique[counts > 1][0])} more than once "
            f"({int((counts > 1).sum())} rows repeated); give each row one split"
        )
    codes = split_codes(frame["split"].tolist(), source=f"split file {path}")
    out = np.full(rows, -1, dtype=np.int64)
    out[index] = codes
    return out
