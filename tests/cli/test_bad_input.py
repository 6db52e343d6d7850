"""Bad input through `neuroplast train`: one clear line, a non-zero exit, the registry untouched."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli.conftest import write_config
from tests.conftest import Result, small_text_config


def _snapshot(home: Path) -> dict[str, str]:
    """Every file under the home except SQLite's WAL side files, with the database's rows."""
    import sqlite3

    out = {}
    for path in sorted(home.rglob("*")):
        if path.is_file() and not path.name.endswith(("-wal", "-shm", ".db")):
            out[str(path.relative_to(home))] = hashlib.sha256(path.read_bytes()).hexdigest()
    with sqlite3.connect(home / "registry.db") as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            rows = conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            out[f"db:{table}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out


@pytest.fixture(scope="module")
def _registry_with_a_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from neuroplast import Engine

    home = tmp_path_factory.mktemp("trained") / "home"
    with Engine(home) as engine:
        engine.train(small_text_config(epochs=1))
    return home


@pytest.fixture()
def trained_home(_registry_with_a_model: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NEUROPLAST_HOME", str(_registry_with_a_model))
    return _registry_with_a_model


def _file_config(tmp_path: Path, path: Path, **data: object) -> Path:
    config = small_text_config("user-data")
    config["data"] = {"path": str(path), "val_fraction": 0.2, "test_fraction": 0.2, **data}
    return write_config(tmp_path / "user.yaml", config)


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


GOOD_ROWS = "".join(
    f"review number {i} is {'good' if i % 2 else 'bad'},{i % 2}\n" for i in range(40)
)


def _table(make: Callable[[Path], Path]) -> Callable[[Path], Path]:
    """A run config that trains on the table file ``make`` writes."""
    return lambda d: _file_config(d, make(d))


def _image_folder(root: Path, sizes: dict[str, tuple[int, int]], broken: bool = False) -> Path:
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for i in range(6):
            size = sizes.get(f"{cls}/{i}", (16, 16))
            Image.fromarray(np.full(size, 40 * i, dtype=np.uint8)).save(root / cls / f"{i}.png")
    if broken:
        (root / "dogs" / "bad.png").write_bytes(b"not a png at all")
    return root


def _images(sizes: dict[str, tuple[int, int]], broken: bool = False) -> Callable[[Path], Path]:
    """A run config that trains an image MLP on the folder :func:`_image_folder` writes."""

    def make(d: Path) -> Path:
        folder = _image_folder(d / "imgs", sizes, broken=broken)
        config = {
            "name": "pets",
            "data": {"path": str(folder), "val_fraction": 0.2, "test_fraction": 0.2},
            "model": {"architecture": "image_mlp"},
            "train": {"epochs": 1},
        }
        return write_config(d / "img.yaml", config)

    return make


#: case -> (writes the bad data and a run config on it, returns the config; the error's regex)
CASES = {
    "missing file": (_table(lambda d: d / "nope.csv"), r"nope.csv"),
    "missing column": (
        _table(lambda d: _write(d / "cols.csv", "review,label\n" + GOOD_ROWS)),
        r"cols.csv has no column 'text'.*'review', 'label'.*data.text_column",
    ),
    "empty file": (_table(lambda d: _write(d / "empty.csv", "")), r"empty.csv.*empty"),
    "header only": (
        _table(lambda d: _write(d / "head.csv", "text,label\n")),
        r"head.csv has no data rows",
    ),
    "single class": (
        _table(
            lambda d: _write(
                d / "one.csv", "text,label\n" + "".join(f"t {i},x\n" for i in range(30))
            )
        ),
        r"one.csv.*at least 2 classes",
    ),
    "NaN labels": (
        _table(
            lambda d: _write(
                d / "nan.csv", "text,label\n" + GOOD_ROWS + "a review with no label,\n"
            )
        ),
        r"nan.csv.*(label|missing).*42",
    ),
    "non-UTF-8": (
        _table(
            lambda d: _write(
                d / "latin.csv", b"text,label\n" + "café crème,1\n".encode("latin-1") * 20
            )
        ),
        r"latin.csv.*UTF-8.*iconv",
    ),
    "unsupported format": (_table(lambda d: _write(d / "data.xlsx", "x")), r"data.xlsx.*\.csv"),
    "mixed image sizes": (
        _images({"dogs/3": (20, 16)}),
        r"different sizes: .*cats/0.png is 16x16 but .*dogs/3.png is 16x20; resize",
    ),
    "unreadable image": (_images({}, broken=True), r"bad.png"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_data_fails_cleanly_and_touches_nothing(
    cli: Callable[..., Result], trained_home: Path, tmp_path: Path, case: str
) -> None:
    make, pattern = CASES[case]
    before = _snapshot(trained_home)
    result = cli("train", str(make(tmp_path)))
    assert result.code != 0
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert re.search(pattern, result.err), result.err
    assert _snapshot(trained_home) == before


def test_text_architecture_on_images_and_vice_versa_is_a_config_error(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    folder = _image_folder(tmp_path / "imgs", {})
    config = {"name": "x", "data": {"path": str(folder)}, "model": {"architecture": "cnn"}}
    result = cli("train", str(write_config(tmp_path / "a.yaml", config)))
    assert result.code == 2 and "takes text inputs" in result.err and "image" in result.err


def test_a_user_csv_trains(cli: Callable[..., Result], home: Path, tmp_path: Path) -> None:
    words = {1: ["great", "superb", "lovely", "moving"], 0: ["awful", "dull", "boring", "flat"]}
    rng = np.random.default_rng(0)
    rows = ["comment,stars"]
    for i in range(120):
        label = i % 2
        rows.append(
            " ".join(rng.choice(words[label], 3)) + f" film {i}," + ("pos" if label else "neg")
        )
    path = _write(tmp_path / "mine.csv", "\n".join(rows) + "\n")
    cfg = _file_config(tmp_path, path, text_column="comment", label_column="stars")
    result = cli("train", str(cfg), "--set", "train.epochs=4")
    assert result.code == 0, result.err
    assert "registered user-data:1" in result.out
