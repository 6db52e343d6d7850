"""The texts (and labels, when there are some) an index is built over: a built-in text data
set by name, or a table file (CSV, TSV, JSON lines, Parquet)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from neuroplast.errors import ConfigError, DataError

__all__ = ["Corpus", "load_corpus"]

_TABLE_HINTS = (".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".parquet", ".pq", ".gz", ".bz2")


@dataclass(frozen=True)
class Corpus:
    texts: list[str]
    labels: list[str | None]
    source: str


def load_corpus(
    data: str,
    *,
    text_column: str = "text",
    label_column: str | None = None,
    limit: int | None = None,
) -> Corpus:
    """``data`` as a path to a table (``text_column``; ``label_column``, else a ``label``
    column when there is one) or the name of a built-in text data set; ``limit`` keeps a
    stratified sample of a built-in set, the first rows of a file."""
    if limit is not None and limit < 1:
        raise ConfigError(f"limit={limit} must be a positive number of rows")
    path = Path(data)
    if path.exists() or data.lower().endswith(_TABLE_HINTS):
        return _from_file(path, text_column, label_column, limit)
    from neuroplast.data import TextData, load_builtin

    loaded = load_builtin(data, limit=limit)
    if not isinstance(loaded, TextData):
        raise DataError(f"{data} holds images; an index is built over texts")
    names = loaded.label_names
    return Corpus(list(loaded.texts), [names[int(k)] for k in loaded.labels], f"builtin:{data}")


def _from_file(path: Path, text_column: str, label_column: str | None, limit: int | None) -> Corpus:
    from neuroplast.data.files import read_table

    frame = read_table(path)
    columns = [str(c) for c in frame.columns]
    for column, option in ((text_column, "--text-column"), (label_column, "--label-column")):
        if column is not None and column not in frame.columns:
            raise DataError(
                f"{path} has no column {column!r}; columns: {', '.join(columns)}. "
                f"Choose one with {option}"
            )
    if label_column is None and "label" in frame.columns:
        label_column = "label"
    if limit is not None:
        frame = frame.head(limit)
    empty = frame[text_column].isna() | (frame[text_column].astype(str).str.strip() == "")
    if empty.any():
        rows = frame.index[empty].tolist()
        raise DataError(
            f"{path} has {len(rows)} rows without text in column {text_column!r} (rows "
            f"{', '.join(map(str, rows[:5]))}{'...' if len(rows) > 5 else ''}); fill them in "
            "or delete them"
        )
    texts = [str(t) for t in frame[text_column]]
    if label_column is None:
        labels: list[str | None] = [None] * len(texts)
    else:
        labels = [None if v != v or v is None else str(v) for v in frame[label_column]]
    return Corpus(texts, labels, str(path))
