"""Load a labelled text table (CSV, TSV, JSON lines, Parquet) into :class:`TextData`.

Text formats are read as bytes and decoded here, so a bad byte is reported with its offset and
line instead of a pandas traceback (a UTF-16 or UTF-32 file is recognised by its byte-order
mark and named as such). ``.gz``, ``.bz2`` and ``.xz`` compression is understood for the text
formats (``reviews.csv.gz``). JSON lines are split on ``"\\n"`` only, so a U+2028 LINE
SEPARATOR inside a string stays in the string. Parquet columns stored as bytes are decoded as
UTF-8. Rows with an empty text are dropped with a warning; rows with a missing label (see
:mod:`neuroplast.data.labels`) are an error, because guessing a label would be wrong. Labels
are compared as text: exactly, after stripping the surrounding whitespace.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import logging
import lzma
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from neuroplast.data._types import TextData
from neuroplast.data.labels import encode_labels, format_rows, is_missing_label, plural
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
_NESTED = (list, dict, tuple, set, np.ndarray)  # JSON arrays / objects, Parquet lists


def _split_suffix(path: Path) -> tuple[str, str | None]:
    """``("…csv", ".gz")`` for ``x.csv.gz``; the compression part is None when absent."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in _DECOMPRESS:
        return suffixes[-2], suffixes[-1]
    return (suffixes[-1] if suffixes else ""), None


_WIDE_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (b"\xff\xfe\x00\x00", "UTF-32", "utf-32"),
    (b"\x00\x00\xfe\xff", "UTF-32", "utf-32"),
    (b"\xff\xfe", "UTF-16", "utf-16"),
    (b"\xfe\xff", "UTF-16", "utf-16"),
)


def _decode(path: Path, raw: bytes) -> str:
    for bom, name, iconv_name in _WIDE_BOMS:
        if raw.startswith(bom):
            raise DataError(
                f"{path} is {name} (it starts with the byte-order mark {bom.hex(' ').upper()}), "
                f"not UTF-8. Re-encode it as UTF-8, e.g. `iconv -f {iconv_name} -t utf-8 "
                f"{path.name} > utf8_{path.name}`"
            )
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise DataError(
            f"{path} holds a NUL byte at byte offset {nul} (line {line}): "
            "it looks like UTF-16 or UTF-32 text without a byte-order mark, or not a text file "
            f"at all. Re-encode it as UTF-8, e.g. `iconv -f utf-16 -t utf-8 {path.name} > "
            f"utf8_{path.name}`, or pass the right file"
        )
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
        except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as error:
            raise DataError(
                f"{path} cannot be decompressed as {compression} ({error}); check that the "
                "file is complete or save it uncompressed"
            ) from error
    return _decode(path, raw)


def _parse_json_lines(path: Path, text: str) -> pd.DataFrame:
    """One JSON object per line; blank lines are allowed. Keeps the file's line numbers.

    Lines end at ``"\\n"`` (and an ``"\\r"`` before it) only: ``str.splitlines`` would also
    split at U+2028, U+0085 and other characters that JSON allows raw inside a string."""
    records: list[dict[str, object]] = []
    lines: list[int] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as error:  # JSONDecodeError, huge integers
            reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
            raise DataError(
                f"{path} line {number} is not valid JSON ({reason}); each line must hold "
                'one object such as {"text": "...", "label": "..."}'
            ) from error
        if not isinstance(record, dict):
            raise DataError(
                f"{path} line {number} holds a {type(record).__name__}, not an object; each "
                'line must hold one object such as {"text": "...", "label": "..."}'
            )
        _refuse_surrogates(path, f"line {number}", record)
        records.append(record)
        lines.append(number)
    return pd.DataFrame.from_records(records, index=pd.Index(lines))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_surrogates(path: Path, where: str, record: dict[str, object]) -> None:
    """JSON may escape half of a UTF-16 pair (``"\\ud800"``), which is not text: refuse it
    here rather than fail on it later when the text is encoded."""
    for key, value in record.items():
        if (isinstance(value, str) and _SURROGATE.search(value)) or _SURROGATE.search(key):
            raise DataError(
                f"{path} {where}: the value of {key!r} holds an unpaired surrogate escape "
                "(such as \\ud800), which is not valid Unicode text; fix or remove it"
            )


def _parse_json_array(path: Path, text: str) -> pd.DataFrame:
    try:
        records = json.loads(text)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, huge integers
        reason = (
            f"{error.msg} at line {error.lineno}"
            if isinstance(error, json.JSONDecodeError)
            else str(error)
        )
        raise DataError(
            f"{path} is not valid JSON ({reason}); use one object per line (JSON lines) or a "
            "single array of objects"
        ) from error
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataError(
            f"{path} must hold one JSON object per line or a single array of objects; "
            "convert it to that layout"
        )
    for number, record in enumerate(records, start=1):
        _refuse_surrogates(path, f"record {number}", record)
    return pd.DataFrame.from_records(records, index=pd.RangeIndex(1, len(records) + 1))


def _decode_bytes_columns(path: Path, frame: pd.DataFrame, fmt: _Format) -> pd.DataFrame:
    """Parquet ``binary`` columns arrive as ``bytes``: decode them as UTF-8 (``str(b"x")``
    would train on ``"b'x'"``), or name the first row that is not UTF-8."""
    out = frame.copy()
    for position, column in enumerate(frame.columns):
        values = frame.iloc[:, position]
        if values.dtype != object or not any(isinstance(v, bytes) for v in values):
            continue
        decoded = []
        for row, value in zip(frame.index, values, strict=True):
            if isinstance(value, bytes):
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise DataError(
                        f"{path} column {str(column)!r} holds bytes that are not UTF-8 text in "
                        f"{fmt.where([int(row)])} (byte 0x{value[error.start]:02x} at offset "
                        f"{error.start}); store that column as UTF-8 strings"
                    ) from error
            decoded.append(value)
        out.isetitem(position, np.array(decoded, dtype=object))
    return out


def _read_parquet(path: Path, fmt: _Format) -> pd.DataFrame:
    try:
        import pyarrow
    except ImportError as error:
        raise DataError(
            f"reading {path} needs pyarrow; install it with `pip install pyarrow`"
        ) from error
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError, TypeError, NotImplementedError, pyarrow.ArrowException) as error:
        raise DataError(
            f"{path} is not a readable Parquet file ({error}); re-export it or save it as CSV"
        ) from error
    frame = frame.set_axis(pd.RangeIndex(1, len(frame) + 1))
    return _decode_bytes_columns(path, frame, fmt)


def _read_frame(path: Path, fmt: _Format, compression: str | None) -> tuple[pd.DataFrame, _Format]:
    """The table, indexed by the row numbers a person sees in the file, and how to name them."""
    if fmt.name == "parquet":
        return _read_parquet(path, fmt), fmt
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
    count = sum(1 for c in frame.columns if c == column)
    if count > 1:
        raise DataError(
            f"{path} has {count} columns named {column!r} (set by {option}); rename all but "
            "one of them"
        )
    if count == 1:
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
    if not path.is_file():
        raise DataError(
            f"{path} is not a regular file (a device, pipe or socket); pass a table file "
            f"({', '.join(_FORMATS)})"
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


def _rows_with_text(
    frame: pd.DataFrame, path: Path, text_column: str, fmt: _Format
) -> pd.DataFrame:
    """The rows whose text is there (the others dropped with a warning); a text that is a
    list or an object, or no text at all, is an error."""
    nested = np.array([isinstance(v, _NESTED) for v in frame[text_column]], dtype=bool)
    if nested.any():
        rows = frame.index[nested].tolist()
        raise DataError(
            f"{path} has {plural(len(rows), 'rows')} whose {text_column!r} is a list or an "
            f"object, not a text ({fmt.where(rows)}); store one string per row"
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
            "%s: dropped %s with empty text in column %r (%s)",
            path,
            plural(len(rows), "rows"),
            text_column,
            fmt.where(rows),
        )
        frame = frame[~text_missing]
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
    ``.xz``. Labels may be strings or integers; see :mod:`neuroplast.data.labels` for the
    class order. ``label_names`` fixes the classes and their order, and any other label in
    the file is an error.
    """
    path = Path(path)
    frame, fmt = _read_table(path)
    _require_column(frame, path, text_column, "data.text_column")
    _require_column(frame, path, label_column, "data.label_column")

    label_missing = np.array([is_missing_label(v) for v in frame[label_column]], dtype=bool)
    if label_missing.any():
        rows = frame.index[label_missing].tolist()
        raise DataError(
            f"{path} has {plural(len(rows), 'rows')} with an empty label in column "
            f"{label_column!r} ({fmt.where(rows)}): empty, blank, NaN and null labels are "
            "missing values, not classes; fill in the labels or delete those rows"
        )
    frame = _rows_with_text(frame, path, text_column, fmt)
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
