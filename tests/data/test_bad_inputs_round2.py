"""Bad data through the loaders and `neuroplast train` (issue 12, round 2).

Each case was reproduced first (the comment says what happened before): it now loads
correctly or ends in one `error: ...` line with exit code 3 (DataError), and a failed
`neuroplast train` leaves the registry's files and rows as they were.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from tests._bad_input import png_header, registry_snapshot
from tests.cli.conftest import write_config
from tests.conftest import Result, small_text_config

from neuroplast.config import DataConfig, parse_run_config
from neuroplast.data import load_image_folder, load_table
from neuroplast.data.files import read_table
from neuroplast.data.labels import encode_labels
from neuroplast.data.prepare import load_source, prepare
from neuroplast.errors import ConfigError, DataError
from neuroplast.evaluation import baseline as baseline_module
from neuroplast.evaluation.baseline import baseline_skip_reason, tfidf_baseline

WORDS = {"1": "great superb lovely moving", "0": "awful dull boring flat"}


def _rows(n: int = 40) -> list[tuple[str, str]]:
    return [(f"{WORDS[str(i % 2)]} film {i}", str(i % 2)) for i in range(n)]


def _csv(path: Path, rows: list[tuple[str, str]], extra: str = "") -> Path:
    path.write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows) + extra)
    return path


@pytest.fixture(scope="module")
def _home_with_a_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from neuroplast.registry import Registry

    home = tmp_path_factory.mktemp("round2") / "home"
    with Registry(home) as registry:  # a registered version that a failed train must keep
        version = registry.create_version(
            "kept", architecture="cnn", task="text_classification", modality="text", config={}
        )
        registry.finalize_version(version.id, files={}, params_count=0, metrics={})
    return home


@pytest.fixture()
def home(_home_with_a_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NEUROPLAST_HOME", str(_home_with_a_model))
    return _home_with_a_model


def _train_fails(
    cli: Callable[..., Result],
    home: Path,
    tmp_path: Path,
    data: Path,
    pattern: str,
    **extra: object,
) -> Result:
    """`neuroplast train` on ``data``: exit 3, one error line matching ``pattern``, no change."""
    config = {
        "name": "user-data",
        "data": {"path": str(data), "val_fraction": 0.2, "test_fraction": 0.2, **extra},
        "model": {"architecture": "cnn", "embedding_dim": 8, "num_filters": 4},
        "train": {"epochs": 1},
    }
    before = registry_snapshot(home)
    result = cli("train", str(write_config(tmp_path / "run.yaml", config)))
    assert result.code == 3, result
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert re.search(pattern, result.err), result.err
    assert registry_snapshot(home) == before
    return result


# --- 1. images over PIL's pixel limit in an image folder -----------------------------------


def _image_folder(root: Path, extra: dict[str, bytes] | None = None, size: int = 8) -> Path:
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for i in range(5):
            image = np.full((size, size), 40 * i, dtype=np.uint8)
            Image.fromarray(image).save(root / cls / f"{i}.png")
    for name, data in (extra or {}).items():
        (root / name).write_bytes(data)
    return root


def test_an_image_over_twice_the_pixel_limit_is_a_data_error(tmp_path: Path) -> None:
    # was: PIL.Image.DecompressionBombError traceback
    folder = _image_folder(tmp_path / "imgs", {"dogs/huge.png": png_header(20_000, 20_000)})
    with pytest.raises(
        DataError,
        match=r"image .*dogs/huge\.png has 400,000,000 pixels, more than PIL's limit of "
        r"89,478,485 \(PIL\.Image\.MAX_IMAGE_PIXELS",
    ):
        load_image_folder(folder)


def test_an_image_over_the_pixel_limit_is_refused_even_when_pil_only_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _image_folder(tmp_path / "imgs", size=12)  # 144 pixels each
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # over it, but not twice over it
    with pytest.raises(
        DataError, match=r"cats/0\.png has 144 pixels, more than PIL's limit of 100"
    ):
        load_image_folder(folder)


def test_train_on_an_image_folder_with_a_bomb_fails_cleanly(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    folder = _image_folder(tmp_path / "imgs", {"cats/huge.png": png_header(20_000, 20_000)})
    config = {
        "name": "pets",
        "data": {"path": str(folder), "val_fraction": 0.2, "test_fraction": 0.2},
        "model": {"architecture": "image_mlp"},
        "train": {"epochs": 1},
    }
    before = registry_snapshot(home)
    result = cli("train", str(write_config(tmp_path / "img.yaml", config)))
    assert result.code == 3 and result.err.count("\n") == 1, result
    assert re.search(r"^error: image .*huge\.png has 400,000,000 pixels", result.err)
    assert registry_snapshot(home) == before


# --- 6. data files ---------------------------------------------------------------------------


def test_a_parquet_text_column_of_bytes_is_decoded(tmp_path: Path) -> None:
    # was: trained on the strings "b'great superb ...'"
    rows = _rows()
    path = tmp_path / "bytes.parquet"
    frame = pd.DataFrame(
        {
            "text": [t.encode() + " é".encode() for t, _ in rows],
            "label": [y.encode() for _, y in rows],
        }
    )
    frame.to_parquet(path)
    data = load_table(path)
    assert data.texts[:2] == [f"{rows[0][0]} é", f"{rows[1][0]} é"]
    assert data.label_names == ["0", "1"]
    assert read_table(path)["text"].iloc[0] == f"{rows[0][0]} é"  # what predict --file reads


def test_a_parquet_bytes_column_that_is_not_utf8_names_the_row(tmp_path: Path) -> None:
    texts = [t.encode() for t, _ in _rows()]
    texts[7] = b"\xff\xfe" + texts[7]
    path = tmp_path / "bad.parquet"
    pd.DataFrame({"text": texts, "label": [y for _, y in _rows()]}).to_parquet(path)
    with pytest.raises(
        DataError,
        match=r"bad\.parquet column 'text' holds bytes that are not UTF-8 text in rows 8 "
        r"\(byte 0xff at offset 0\)",
    ):
        load_table(path)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c"])
def test_jsonl_keeps_line_breaks_other_than_newline_inside_strings(
    tmp_path: Path, separator: str
) -> None:
    # was: "line 1 is not valid JSON (Unterminated string ...)" for a raw U+2028
    rows = _rows()
    path = tmp_path / "sep.jsonl"
    lines = [
        json.dumps({"text": f"{t}{separator}more", "label": y}, ensure_ascii=False) for t, y in rows
    ]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")  # CRLF line ends too
    data = load_table(path)
    assert data.texts[0] == f"{rows[0][0]}{separator}more"
    assert len(data.texts) == len(rows)


def test_jsonl_errors_keep_the_file_line_numbers_after_a_line_separator(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"text": "a\u2028b", "label": "x"}, ensure_ascii=False)
    path.write_text(f"{good}\n{good}\n{{not json\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl line 3 is not valid JSON"):
        load_table(path)


def test_csv_labels_are_compared_as_text_after_stripping(tmp_path: Path) -> None:
    # was: "01" and " 1" merged into "1" while "1.0" stayed a class of its own
    labels = ["01", " 1", "1.0", "1", "0", "0"] * 4
    path = tmp_path / "labels.csv"
    path.write_text("text,label\n" + "".join(f"row {i},{y}\n" for i, y in enumerate(labels)))
    data = load_table(path)
    assert data.label_names == ["0", "01", "1", "1.0"]
    named = [data.label_names[i] for i in data.labels[:6]]
    assert named == ["01", "1", "1.0", "1", "0", "0"]  # " 1" is "1"; "01" and "1.0" are not


def test_numbers_from_json_are_their_integer_text(tmp_path: Path) -> None:
    path = tmp_path / "numbers.jsonl"
    records = [{"text": f"t{i}", "label": y} for i, y in enumerate([1, 1.0, "1", 2, 10, " 2"])]
    path.write_text("\n".join(json.dumps(r) for r in records))
    data = load_table(path)
    assert data.label_names == ["1", "2", "10"]  # numeric order
    assert data.labels.tolist() == [0, 0, 0, 1, 2, 1]


def test_integer_names_with_leading_zeros_sort_the_same_every_time() -> None:
    _, names = encode_labels(["1", "01", "10", "2", "001"], source="x")
    assert names == ["001", "01", "1", "2", "10"]  # by value, ties by text


@pytest.mark.parametrize(
    "spelling", ["", "  ", "NaN", "nan", "null", "NULL", "N/A", "#N/A", "<NA>"]
)
def test_a_missing_label_in_a_csv_is_refused_with_its_row(tmp_path: Path, spelling: str) -> None:
    # was: "NaN" (and the other spellings) silently became a class
    path = _csv(tmp_path / "gaps.csv", _rows(), f"no label here,{spelling}\n")
    with pytest.raises(
        DataError,
        match=r"gaps\.csv has 1 row with an empty label in column 'label' \(rows 42; the header "
        r"is row 1\): empty, blank, NaN and null labels are missing values",
    ):
        load_table(path)


def test_many_missing_labels_are_counted_and_the_first_rows_named(tmp_path: Path) -> None:
    extra = "".join(f"unlabelled {i},NaN\n" for i in range(7))
    path = _csv(tmp_path / "gaps.csv", _rows(), extra)
    with pytest.raises(
        DataError, match=r"has 7 rows with an empty label .*rows 42, 43, 44, 45, 46 and 2 more"
    ):
        load_table(path)


def test_none_stays_a_class_name(tmp_path: Path) -> None:
    rows = [(t, "None" if y == "0" else "spam") for t, y in _rows()]
    assert load_table(_csv(tmp_path / "none.csv", rows)).label_names == ["None", "spam"]


def test_missing_labels_in_parquet_and_in_other_callers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "gaps.parquet"
    labels: list[float | None] = [float(i % 2) for i in range(20)]
    labels[3] = None
    pd.DataFrame({"text": [f"t{i}" for i in range(20)], "label": labels}).to_parquet(path)
    with pytest.raises(DataError, match=r"gaps\.parquet has 1 row with an empty label .*rows 4\)"):
        load_table(path)
    # encode_labels is also what continual streams call on raw columns
    with pytest.raises(
        DataError, match=r"stream has 2 labels missing \(empty, NaN or null; rows 2, 4\)"
    ):
        encode_labels(["a", float("nan"), "b", None], source="stream")
    with pytest.raises(
        DataError, match=r"stream: 1 label is neither a text nor a number \(a list; rows 2\)"
    ):
        encode_labels(["a", ["b"], "b"], source="stream")


def test_train_refuses_missing_labels_and_keeps_the_registry(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "nan.csv", _rows(), "a review with no label,NaN\n")
    _train_fails(cli, home, tmp_path, path, r"nan\.csv has 1 row with an empty label .*rows 42")


@pytest.mark.parametrize(
    ("encoding", "prefix", "name", "mark"),
    [
        ("utf-16-le", b"\xff\xfe", "UTF-16", "FF FE"),
        ("utf-16-be", b"\xfe\xff", "UTF-16", "FE FF"),
        ("utf-32-le", b"\xff\xfe\x00\x00", "UTF-32", "FF FE 00 00"),
    ],
)
def test_a_utf16_or_utf32_file_is_named_with_the_right_iconv(
    tmp_path: Path, encoding: str, prefix: bytes, name: str, mark: str
) -> None:
    # was: "is not valid UTF-8 ... `iconv -f latin1 -t utf-8 ...`"
    path = tmp_path / "wide.csv"
    path.write_bytes(prefix + "text,label\ngood,1\nbad,0\n".encode(encoding))
    iconv = name.lower()
    with pytest.raises(
        DataError,
        match=rf"wide\.csv is {name} \(it starts with the byte-order mark {mark}\), not UTF-8\. "
        rf"Re-encode it as UTF-8, e.g\. `iconv -f {iconv} -t utf-8 wide\.csv > utf8_wide\.csv`",
    ):
        load_table(path)


def test_utf16_without_a_byte_order_mark_is_named_by_its_nul_bytes(tmp_path: Path) -> None:
    # was: "has no column 'text'; columns found: 't\x00e\x00x\x00t\x00'..."
    path = tmp_path / "wide.csv"
    path.write_bytes("text,label\ngood,1\nbad,0\n".encode("utf-16-le"))
    with pytest.raises(
        DataError, match=r"NUL byte at byte offset 1 .*looks like UTF-16.*iconv -f utf-16"
    ):
        load_table(path)


def test_train_names_a_utf16_file(cli: Callable[..., Result], home: Path, tmp_path: Path) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes(("text,label\n" + "".join(f"{t},{y}\n" for t, y in _rows())).encode("utf-16"))
    _train_fails(cli, home, tmp_path, path, r"u16\.csv is UTF-16 .*iconv -f utf-16 -t utf-8")


def test_a_directory_named_like_a_table_is_called_a_directory(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    # was: "image folder .../reviews.csv has no class subfolders"
    folder = tmp_path / "reviews.csv"
    folder.mkdir()
    pattern = r"data path .*reviews\.csv is a directory, not a \.csv file; pass the table file"
    with pytest.raises(DataError, match=pattern):  # evaluate --data goes through load_source
        load_source(DataConfig(path=str(folder)), label_names=["0", "1"], path=str(folder))
    _train_fails(cli, home, tmp_path, folder, pattern)


def test_too_few_rows_per_class_says_so(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    # was: TrainingError (exit 6) "the validation data is empty; lower data.val_fraction",
    # after a run had been recorded
    path = tmp_path / "many.csv"
    rows = "".join(f"text number {i} about c{i // 2},c{i // 2}\n" for i in range(20_000))
    path.write_text("text,label\n" + rows)
    pattern = (
        r"many\.csv: the validation and test splits are empty because there are too few rows "
        r"per class: 10000 classes with a median of 2 rows \(at most 2\).*Add rows \(at least 3 "
        r"per class\) or merge the rare classes"
    )
    _train_fails(cli, home, tmp_path, path, pattern)


def test_the_split_check_names_the_fraction_that_starves(tmp_path: Path) -> None:
    path = _csv(tmp_path / "small.csv", [(f"t{i}", f"c{i % 4}") for i in range(20)])  # 5 per class
    with pytest.raises(DataError, match=r"the validation split is empty .*at least 6 per class"):
        prepare(DataConfig(path=str(path), val_fraction=0.1, test_fraction=0.2))
    assert (
        len(prepare(DataConfig(path=str(path), val_fraction=0.2, test_fraction=0.2)).val_idx) == 4
    )


# --- 7. the TF-IDF baseline: a switch and a size limit -------------------------------------


def test_evaluation_baseline_is_a_typed_option() -> None:
    raw = small_text_config()
    assert parse_run_config(raw).evaluation.baseline is True
    assert parse_run_config({**raw, "evaluation": {"baseline": False}}).evaluation.baseline is False
    with pytest.raises(
        ConfigError, match=r"unknown key 'evaluation\.plots'.*accepted keys there: baseline"
    ):
        parse_run_config({**raw, "evaluation": {"plots": False}})


def test_the_baseline_is_skipped_above_1000_classes_before_any_work(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # was: 1,500 classes x 4 rows took 12 s and 2 GB here (10,000 classes: over 7 minutes)
    classes = 1500
    texts = [f"word{c} common text" for c in range(classes) for _ in range(4)]
    labels = np.repeat(np.arange(classes), 4)
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="neuroplast.evaluation.baseline"):
        result = tfidf_baseline(
            texts, labels, texts[:10], labels[:10], [f"c{i}" for i in range(classes)]
        )
    assert result == (None, None)
    assert time.perf_counter() - started < 5
    assert "skipped the TF-IDF baseline: 1500 classes is more than 1000" in caplog.text
    assert "set evaluation.baseline: false" in caplog.text


def test_the_baseline_is_skipped_above_the_weight_limit() -> None:
    assert baseline_skip_reason(1000, 10_000) is None
    reason = baseline_skip_reason(1000, 10_001)
    assert reason == (
        "1000 classes x 10001 TF-IDF features = 10,001,000 weights is more than 10,000,000"
    )


def test_the_baseline_is_skipped_when_no_word_is_shared(caplog: pytest.LogCaptureFixture) -> None:
    texts = [f"unique{i}" for i in range(10)]
    labels = np.arange(10) % 2
    with caplog.at_level(logging.WARNING):
        assert tfidf_baseline(texts, labels, texts, labels, ["a", "b"]) == (None, None)
    assert "no TF-IDF features" in caplog.text


@pytest.fixture(scope="module")
def _trained_without_baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from neuroplast import Engine

    home = tmp_path_factory.mktemp("nobase") / "home"
    config = {**small_text_config("no-baseline", epochs=1), "evaluation": {"baseline": False}}
    with Engine(home) as engine:
        outcome = engine.train(config)
    assert outcome.baseline is None and outcome.baseline_seconds is None
    assert "baseline_test_accuracy" not in outcome.version.metrics
    return home


def test_evaluation_baseline_false_switches_it_off_for_train_and_evaluate(
    _trained_without_baseline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neuroplast import Engine

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the baseline ran")

    monkeypatch.setattr("neuroplast.workflows.report.tfidf_baseline", refuse)
    with Engine(_trained_without_baseline) as engine:
        assert engine.evaluate("no-baseline:1", split="test").baseline is None


def test_train_logs_a_skipped_baseline(
    cli: Callable[..., Result], home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(baseline_module, "MAX_BASELINE_CLASSES", 1)  # 2 classes: over it
    config = small_text_config("skipped-baseline", epochs=1)
    result = cli("train", str(write_config(tmp_path / "run.yaml", config)))
    assert result.code == 0, result.err
    assert "skipped the TF-IDF baseline: 2 classes is more than 1" in result.err
