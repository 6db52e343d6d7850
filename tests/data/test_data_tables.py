"""load_table on real-shaped user files, and one test per kind of bad input."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from neuroplast.data import load_table
from neuroplast.data.files import read_table
from neuroplast.errors import DataError

ROWS = [
    ("a fine film", "pos"),
    ("dull and long", "neg"),
    ("loved it", "pos"),
    ("not for me", "neg"),
]


def write_csv(path: Path, rows: list[tuple[str, str]], header: str = "text,label") -> Path:
    lines = [header] + [f'"{text}",{label}' for text, label in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_csv_with_string_labels(tmp_path: Path) -> None:
    data = load_table(write_csv(tmp_path / "reviews.csv", ROWS))
    assert data.texts == [text for text, _ in ROWS]
    assert data.label_names == ["neg", "pos"]
    assert data.labels.tolist() == [1, 0, 1, 0]
    assert data.labels.dtype == np.int64
    assert data.source == str(tmp_path / "reviews.csv")
    assert data.test_mask is None


def test_integer_labels_are_ordered_by_value(tmp_path: Path) -> None:
    rows = [("a", "10"), ("b", "2"), ("c", "1"), ("d", "2")]
    data = load_table(write_csv(tmp_path / "n.csv", rows))
    assert data.label_names == ["1", "2", "10"]
    assert data.labels.tolist() == [2, 1, 0, 1]


def test_tsv_jsonl_json_parquet_and_gzip_agree(tmp_path: Path) -> None:
    frame = pd.DataFrame({"review": [t for t, _ in ROWS], "stars": [5, 1, 4, 2]})
    frame.to_csv(tmp_path / "r.tsv", sep="\t", index=False)
    frame.to_json(tmp_path / "r.jsonl", orient="records", lines=True)
    (tmp_path / "r.json").write_text(frame.to_json(orient="records"), encoding="utf-8")
    frame.to_parquet(tmp_path / "r.parquet")
    (tmp_path / "r.csv.gz").write_bytes(gzip.compress(frame.to_csv(index=False).encode()))
    results = [
        load_table(tmp_path / name, text_column="review", label_column="stars")
        for name in ["r.tsv", "r.jsonl", "r.json", "r.parquet", "r.csv.gz"]
    ]
    for data in results:
        assert data.texts == results[0].texts
        assert data.label_names == ["1", "2", "4", "5"]
        assert data.labels.tolist() == [3, 0, 2, 1]


def test_label_names_fix_the_order_and_reject_unknown_labels(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", [*ROWS, ("meh", "neutral")])
    data = load_table(path, label_names=["pos", "neg", "neutral"])
    assert data.label_names == ["pos", "neg", "neutral"]
    assert data.labels.tolist() == [0, 1, 0, 1, 2]
    with pytest.raises(
        DataError, match=r"r\.csv has labels not in label_names: 'neutral' \(rows 6;"
    ):
        load_table(path, label_names=["pos", "neg"])


def test_csv_with_utf8_bom_and_quoted_commas(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes('\ufefftext,label\n"good, really",1\n"bad, sadly",0\n'.encode())
    data = load_table(path)
    assert data.texts == ["good, really", "bad, sadly"]


def test_read_table_returns_the_frame(tmp_path: Path) -> None:
    frame = read_table(write_csv(tmp_path / "r.csv", ROWS))
    assert list(frame.columns) == ["text", "label"]
    assert frame.index.tolist() == [2, 3, 4, 5]


# --- bad input: one test each -------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data file .*nope\.csv does not exist.*check the path"):
        load_table(tmp_path / "nope.csv")


def test_unsupported_extension_lists_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "reviews.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(
        DataError,
        match=r"reviews\.xlsx has an unsupported extension '\.xlsx'.*\.csv, \.tsv, \.jsonl",
    ):
        load_table(path)


def test_missing_text_column_lists_columns_and_option(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", ROWS, header="review,label")
    with pytest.raises(
        DataError,
        match=r"r\.csv has no column 'text' \(set by data\.text_column\); "
        r"columns found: 'review', 'label'",
    ):
        load_table(path)


def test_missing_label_column_names_the_option(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", ROWS, header="text,sentiment")
    with pytest.raises(
        DataError, match=r"no column 'label' \(set by data\.label_column\).*'sentiment'"
    ):
        load_table(path)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.csv is empty \(0 bytes\)"):
        load_table(path)


def test_header_without_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "head.csv", [])
    with pytest.raises(DataError, match=r"head\.csv has no data rows; add labelled rows"):
        load_table(path)


def test_blank_jsonl_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"blank\.jsonl is empty"):
        load_table(path)


def test_single_class(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "one.csv", [("a", "pos"), ("b", "pos")])
    with pytest.raises(
        DataError, match=r"one\.csv has a single class \('pos'\).*at least 2 classes"
    ):
        load_table(path)


def test_missing_labels_give_csv_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "gaps.csv"
    path.write_text("text,label\na,pos\nb,\nc,neg\nd, \ne,pos\n", encoding="utf-8")
    with pytest.raises(
        DataError,
        match=r"gaps\.csv has 2 rows with an empty label in column 'label' "
        r"\(rows 3, 5; the header is row 1\)",
    ):
        load_table(path)


def test_missing_labels_give_jsonl_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "gaps.jsonl"
    records = [{"text": "a", "label": "x"}, {"text": "b", "label": None}, {"text": "c"}]
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    with pytest.raises(DataError, match=r"2 rows with an empty label .*\(lines 2, 3\)"):
        load_table(path)


def test_non_utf8_csv_gives_offset_and_iconv(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ngood,1\ncaf\u00e9 bad,0\n".encode("latin-1"))
    with pytest.raises(
        DataError,
        match=r"latin\.csv is not valid UTF-8: byte 0xe9 at byte offset 21 \(line 3\)"
        r".*iconv -f latin1 -t utf-8",
    ):
        load_table(path)


def test_non_utf8_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes('{"text": "\u00a3 5", "label": 1}\n'.encode("latin-1"))
    with pytest.raises(DataError, match=r"not valid UTF-8: byte 0xa3 .*line 1.*iconv"):
        load_table(path)


def test_invalid_json_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "label": 1}\n{"text": "b", label: 2}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl line 2 is not valid JSON"):
        load_table(path)


def test_empty_texts_are_dropped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "holes.csv"
    path.write_text("text,label\na,pos\n,neg\n  ,pos\nd,neg\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="neuroplast.data"):
        data = load_table(path)
    assert data.texts == ["a", "d"]
    assert data.labels.tolist() == [1, 0]
    assert "dropped 2 rows with empty text in column 'text' (rows 3, 4" in caplog.text


def test_only_empty_texts_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "void.csv"
    path.write_text("text,label\n,pos\n ,neg\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"void\.csv has no non-empty text in column 'text'"):
        load_table(path)


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a folder, not a table"):
        load_table(tmp_path)


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"broken\.parquet is not a readable Parquet file"):
        load_table(path)
