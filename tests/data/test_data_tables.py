"""load_table on real-shaped user files; and every kind of bad data file (tables and image
folders) in one table, each with the error that names the file and the fix."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from neuroplast.data import load_image_folder, load_table
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


# --- bad data files: one table, one test ---------------------------------------------------------

Maker = Callable[[Path], Path]


@dataclass(frozen=True)
class Bad:
    """A bad data file (``make`` writes it under a fresh folder and returns its path), the
    loader that reads it and the :class:`DataError` message (a regex) the user must see."""

    make: Maker
    pattern: str
    load: Callable[[Path], object] = load_table


def _text(name: str, content: str) -> Maker:
    def make(folder: Path) -> Path:
        (folder / name).write_text(content, encoding="utf-8")
        return folder / name

    return make


def _bytes(name: str, content: bytes) -> Maker:
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(content)
        return folder / name

    return make


def _csv(name: str, rows: list[tuple[str, str]], header: str = "text,label") -> Maker:
    return lambda folder: write_csv(folder / name, rows, header=header)


def _images(
    *pngs: str | tuple[str, tuple[int, int]], other: dict[str, bytes] | None = None
) -> Maker:
    """An image folder: small gray PNGs (``name`` or ``(name, (width, height))``) and other
    files (``other``, name -> bytes)."""

    def make(folder: Path) -> Path:
        for png in pngs:
            name, size = (png, (6, 4)) if isinstance(png, str) else png
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            Image.new("L", size, 10).save(folder / name)
        for name, content in (other or {}).items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)
        return folder

    return make


def _the_file(make: Maker, name: str) -> Maker:
    return lambda folder: make(folder) / name


BAD_FILES: dict[str, Bad] = {
    # tables (load_table)
    "missing file": Bad(
        lambda folder: folder / "nope.csv", r"data file .*nope\.csv does not exist.*check the path"
    ),
    "unsupported extension": Bad(
        _bytes("reviews.xlsx", b"PK"),
        r"reviews\.xlsx has an unsupported extension '\.xlsx'.*\.csv, \.tsv, \.jsonl",
    ),
    "missing text column": Bad(
        _csv("r.csv", ROWS, header="review,label"),
        r"r\.csv has no column 'text' \(set by data\.text_column\); "
        r"columns found: 'review', 'label'",
    ),
    "missing label column": Bad(
        _csv("r.csv", ROWS, header="text,sentiment"),
        r"no column 'label' \(set by data\.label_column\).*'sentiment'",
    ),
    "zero-byte file": Bad(_bytes("empty.csv", b""), r"empty\.csv is empty \(0 bytes\)"),
    "header without rows": Bad(
        _csv("head.csv", []), r"head\.csv has no data rows; add labelled rows"
    ),
    "blank jsonl": Bad(_text("blank.jsonl", "\n\n"), r"blank\.jsonl is empty"),
    "single class": Bad(
        _csv("one.csv", [("a", "pos"), ("b", "pos")]),
        r"one\.csv has a single class \('pos'\).*at least 2 classes",
    ),
    "empty labels, csv row numbers": Bad(
        _text("gaps.csv", "text,label\na,pos\nb,\nc,neg\nd, \ne,pos\n"),
        r"gaps\.csv has 2 rows with an empty label in column 'label' "
        r"\(rows 3, 5; the header is row 1\)",
    ),
    "empty labels, jsonl line numbers": Bad(
        _text(
            "gaps.jsonl",
            "\n".join(
                json.dumps(r)
                for r in [{"text": "a", "label": "x"}, {"text": "b", "label": None}, {"text": "c"}]
            ),
        ),
        r"2 rows with an empty label .*\(lines 2, 3\)",
    ),
    "non-UTF-8 csv": Bad(
        _bytes("latin.csv", "text,label\ngood,1\ncaf\u00e9 bad,0\n".encode("latin-1")),
        r"latin\.csv is not valid UTF-8: byte 0xe9 at byte offset 21 \(line 3\)"
        r".*iconv -f latin1 -t utf-8",
    ),
    "non-UTF-8 jsonl": Bad(
        _bytes("latin.jsonl", '{"text": "\u00a3 5", "label": 1}\n'.encode("latin-1")),
        r"not valid UTF-8: byte 0xa3 .*line 1.*iconv",
    ),
    "invalid JSON line": Bad(
        _text("bad.jsonl", '{"text": "a", "label": 1}\n{"text": "b", label: 2}\n'),
        r"bad\.jsonl line 2 is not valid JSON",
    ),
    "only empty texts": Bad(
        _text("void.csv", "text,label\n,pos\n ,neg\n"),
        r"void\.csv has no non-empty text in column 'text'",
    ),
    "folder instead of file": Bad(lambda folder: folder, "is a folder, not a table"),
    "corrupt parquet": Bad(
        _bytes("broken.parquet", b"not parquet at all"),
        r"broken\.parquet is not a readable Parquet file",
    ),
    # image folders (load_image_folder)
    "missing image folder": Bad(
        lambda folder: folder / "photos", r"image folder .*photos does not exist", load_image_folder
    ),
    "no class subfolders": Bad(
        _images(),
        r"has no class subfolders\. put the images in one subfolder",
        load_image_folder,
    ),
    "images directly in the folder": Bad(
        _images("x.png"), r"It holds 1 images directly.*one subfolder per class", load_image_folder
    ),
    "class folder without images": Bad(
        _images("cat/1.png", other={"dog/readme.md": b"hi"}),
        r"class folder .*dog has no images.*\.png",
        load_image_folder,
    ),
    "unreadable image": Bad(
        _images("cat/1.png", other={"dog/broken.png": b"\x89PNG not really"}),
        r"cannot read image .*dog/broken\.png.*replace the file",
        load_image_folder,
    ),
    "mixed image sizes": Bad(
        _images(("cat/1.png", (28, 28)), ("dog/big.png", (32, 30))),
        r"cat/1\.png is 28x28 but .*dog/big\.png is 32x30; resize them all to one size",
        load_image_folder,
    ),
    "single class folder": Bad(
        _images("cat/1.png"),
        r"single class \('cat'\); training needs at least 2",
        load_image_folder,
    ),
    "file instead of folder": Bad(
        _the_file(_images("x.png"), "x.png"), "is a file, not a folder", load_image_folder
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_data_files_raise_a_data_error_naming_the_problem(tmp_path: Path, case: str) -> None:
    bad = BAD_FILES[case]
    path = bad.make(tmp_path)
    with pytest.raises(DataError, match=bad.pattern):
        bad.load(path)
