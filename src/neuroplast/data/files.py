"""Load a labelled text table (CSV, TSV, JSON lines, Parquet) into :class:`TextData`.

Text formats are read as bytes and decoded here, so a bad byte is reported with its offset and
line instead of a pandas traceback. ``.gz``, ``.bz2`` and ``.xz`` compression is understood
for the text formats (``reviews.csv.gz``). Rows with an empty text are dropped with a warning;
rows with an empty label are an error, because guessing a label would be wrong.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import logging
import lzma
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from neuroplast.data._labels import encode_labels, format_rows
from neuroplast.data._types import TextData
from neuroplast.errors import DataError

__all__ = ["SUPPORTED_TABLE_EXTENSIONS", "load_table", "read_table"]

logger = logging.getLogger(__name__)

_DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.decompress,
    ".bz2": bz2.decompress,
    ".xz": lzma.decompress,
}


@dataclass(frozen=True)
class _Format:
    name: str
    row_word: str  # "rows" of a CSV or Parquet file, "lines" of a JSON lines file
    first_row: int  # the number a person sees for the first data row
    note: str = ""

    def where(self, rows: list[int]) -> str:
        """``"rows 3, 7; the header is row 1"`` for file row numbers ``rows``."""
        return f"{self.row_word} {format_rows(rows)}{self.note}"


_FORMATS: dict[str, _Format] = {
    ".csv": _Format("csv", "rows", 2, "; the header is row 1"),
    ".tsv": _Format("tsv", "rows", 2, "; the header is row 1"),
    ".jsonl": _Format("jsonl", "lines", 1),
    ".ndjson": _Format("jsonl", "lines", 1),
    ".json": _Format("json", "lines", 1),
    ".parquet": _Format("parquet", "rows", 1),
    ".pq": _Format("parquet", "rows", 1),
}
SUPPORTED_TABLE_EXTENSIONS: tuple[str, ...] = tuple(_FORMATS)


def _split_suffix(path: Path) -> tuple[str, str | None]:
    """``("…csv", ".gz")`` for ``x.csv.gz``; the compression part is None when absent."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in _DECOMPRESS:
        return suffixes[-2], suffixes[-1]
    return (suffixes[-1] if suffixes else ""), None


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        start = error.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        line = raw[:start].count(b"\n") + 1
        raise DataError(
            f"{path} is not valid UTF-8: byte 0x{raw[start]:02x} at byte offset {start} "
            f"(line {line}). Re-encode the file as UTF-8, e.g. "
            f"`iconv -f latin1 -t utf-8 {path.name} > utf8_{path.name}`"
        ) from error


def _read_text(path: Path, compression: str | None) -> str:
    raw = path.read_bytes()
    if compression is not None:
        try:
            raw = _DECOMPRESS[compression](raw)
        except (OSError, EOFError, ValueError, lzma.LZMAError) as error:
            raise DataError(
                f"{path} cannot be decompressed as {compression} ({error}); check that the "
                "file is complete or save it uncompressed"
            ) from error
    return _decode(path, raw)


def _parse_json_lines(path: Path, text: str) -> pd.DataFrame:
    """One JSON object per line; blank lines are allowed. Keeps the file's line numbers."""
    records: list[dict[str, object]] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(
                f"{path} line {number} is not valid JSON ({error.msg}); each line must hold "
                'one object such as {"text": "...", "label": "..."}'
            ) from error
        if not isinstance(record, dict):
            raise DataError(
                f"{path} line {number} holds a {type(record).__name__}, not an object; each "
                'line must hold one object such as {"text": "...", "label": "..."}'
            )
        records.append(record)
        lines.append(number)
    return pd.DataFrame.from_records(records, index=pd.Index(lines))


def _parse_json_array(path: Path, text: str) -> pd.DataFrame:
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path} is not valid JSON ({error.msg} at line {error.lineno}); use one object "
            "per line (JSON lines) or a single array of objects"
        ) from error
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataError(
            f"{path} must hold one JSON object per line or a single array of objects; "
            "convert it to that layout"
        )
    return pd.DataFrame.from_records(records, index=pd.RangeIndex(1, len(records) + 1))


def _read_frame(path: Path, fmt: _Format, compression: str | None) -> tuple[pd.DataFrame, _Format]:
    """The table, indexed by the row numbers a person sees in the file, and how to name them."""
    if fmt.name == "parquet":
        try:
            frame = pd.read_parquet(path)
        except ImportError as error:
            raise DataError(
                f"reading {path} needs pyarrow; install it with `pip install pyarrow`"
            ) from error
        except (OSError, ValueError) as error:
            raise DataError(
                f"{path} is not a readable Parquet file ({error}); re-export it or save it as CSV"
            ) from error
        return frame.set_axis(pd.RangeIndex(1, len(frame) + 1)), fmt
    text = _read_text(path, compression)
    if not text.strip():
        raise DataError(f"{path} is empty; add a header line and at least 2 labelled rows")
    if fmt.name == "jsonl" or (fmt.name == "json" and not text.lstrip().startswith("[")):
        return _parse_json_lines(path, text), fmt
    if fmt.name == "json":
        return _parse_json_array(path, text), _Format("json", "records", 1)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep="\t" if fmt.name == "tsv" else ",",
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            quoting=csv.QUOTE_MINIMAL,
        )
    except (pd.errors.ParserError, ValueError) as error:
        raise DataError(
            f"{path} cannot be parsed as {fmt.name.upper()} ({error}); check quoting and the "
            "number of fields on that line"
        ) from error
    return frame.set_axis(pd.RangeIndex(fmt.first_row, fmt.first_row + len(frame))), fmt


def _require_column(frame: pd.DataFrame, path: Path, column: str, option: str) -> None:
    if column in frame.columns:
        return
    found = ", ".join(repr(str(c)) for c in frame.columns) or "none"
    raise DataError(
        f"{path} has no column {column!r} (set by {option}); columns found: {found}. "
        f"Set {option} to one of them or rename the column"
    )


def _is_missing(series: pd.Series) -> np.ndarray:
    blank = series.map(lambda v: isinstance(v, str) and not v.strip())
    return np.asarray(series.isna() | blank.astype(bool), dtype=bool)


def _read_table(path: Path) -> tuple[pd.DataFrame, _Format]:
    if not path.exists():
        raise DataError(
            f"data file {path} does not exist (looked in {path.absolute().parent}); "
            "check the path or create the file"
        )
    if path.is_dir():
        raise DataError(
            f"{path} is a folder, not a table; pass a file ({', '.join(_FORMATS)}) or use "
            "load_image_folder for a folder of images"
        )
    extension, compression = _split_suffix(path)
    fmt = _FORMATS.get(extension)
    if fmt is None or (compression is not None and fmt.name == "parquet"):
        shown = extension + (compression or "") or "(none)"
        raise DataError(
            f"{path} has an unsupported extension {shown!r}; supported: "
            f"{', '.join(_FORMATS)} (text formats may add .gz, .bz2 or .xz). "
            "Convert the file to one of these formats or fix its extension"
        )
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes); add a header line and labelled rows")
    frame, fmt = _read_frame(path, fmt, compression)
    if len(frame) == 0:
        raise DataError(f"{path} has no data rows; add labelled rows below the header")
    return frame, fmt


def read_table(path: str | Path) -> pd.DataFrame:
    """The raw table in ``path`` (any supported format), with the same checks as load_table.

    The index holds the row numbers a person sees in the file (CSV: the header is row 1).
    """
    frame, _ = _read_table(Path(path))
    return frame


def load_table(
    path: str | Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    label_names: list[str] | None = None,
) -> TextData:
    """Read a labelled text table; the format comes from the extension.

    Supported: ``.csv``, ``.tsv``, ``.jsonl`` / ``.ndjson`` / ``.json`` (JSON lines, or one
    array of objects), ``.parquet`` / ``.pq``; text formats may end in ``.gz``, ``.bz2``,
    ``.xz``. Labels may be strings or integers; see :mod:`neuroplast.data._labels` for the
    class order. ``label_names`` fixes the classes and their order, and any other label in
    the file is an error.
    """
    path = Path(path)
    frame, fmt = _read_table(path)
    _require_column(frame, path, text_column, "data.text_column")
    _require_column(frame, path, label_column, "data.label_column")

    label_missing = _is_missing(frame[label_column])
    if label_missing.any():
        rows = frame.index[label_missing].tolist()
        raise DataError(
            f"{path} has {len(rows)} rows with an empty label in column {label_column!r} "
            f"({fmt.where(rows)}); fill in the labels or delete those rows"
        )
    text_missing = _is_missing(frame[text_column])
    if text_missing.all():
        raise DataError(
            f"{path} has no non-empty text in column {text_column!r}; check data.text_column "
            "or fill in the texts"
        )
    if text_missing.any():
        rows = frame.index[text_missing].tolist()
        logger.warning(
            "%s: dropped %d rows with empty text in column %r (%s)",
            path,
            len(rows),
            text_column,
            fmt.where(rows),
        )
        frame = frame[~text_missing]

    row_numbers = frame.index.to_numpy()
    labels, names = encode_labels(
        frame[label_column].tolist(),
        source=str(path),
        label_names=label_names,
        where=lambda positions: fmt.where([int(row_numbers[i]) for i in positions]),
    )
    texts = [str(text) for text in frame[text_column].tolist()]
    logger.info("loaded %d rows and %d classes from %s", len(texts), len(names), path)
    return TextData(texts=texts, labels=labels, label_names=names, source=str(path))
