"""A seeded corpus of malformed data files through the loaders `neuroplast train` and
`neuroplast evaluate --data` use: each must load or fail with a NeuroplastError, never
another exception, and a failing `neuroplast train` must leave the registry as it was.

The corpus (:func:`corpus`, 300+ files) is generated in the test from one seed: valid CSV,
TSV, JSON lines, JSON arrays, Parquet tables and image folders, and mutations of them
(flipped, cut, inserted and duplicated bytes, byte-order marks, NUL bytes, U+2028 and other
line breaks, bad quoting, huge numbers, deep nesting, missing and nested labels, binary and
list columns, broken and oversized images). A failing case names its corpus entry, so
``pytest -k`` and :func:`corpus` reproduce it.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from tests._bad_input import png_header, registry_snapshot
from tests.cli.conftest import write_config
from tests.conftest import Result

from neuroplast.config import DataConfig
from neuroplast.data import Vocabulary
from neuroplast.data.prepare import as_test_set, load_source, prepare
from neuroplast.errors import NeuroplastError

SEED = 20240612
WORDS = [
    "good",
    "bad",
    "great",
    "awful",
    "film",
    "plot",
    "actor",
    "scene",
    "dull",
    "moving",
    "slow",
    "fast",
]


@dataclass(frozen=True)
class Case:
    name: str  # also the file or folder name
    build: Callable[[Path], Path]  # writes the case under a folder, returns the data path


def _rows(rng: random.Random, n: int = 24) -> list[tuple[str, str]]:
    return [
        (" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))), rng.choice(["pos", "neg"]))
        for _ in range(n)
    ]


def _csv(rows: list[tuple[str, str]], sep: str = ",") -> bytes:
    return ("text" + sep + "label\n" + "".join(f"{t}{sep}{y}\n" for t, y in rows)).encode()


def _jsonl(rows: list[tuple[str, str]]) -> bytes:
    return "".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in rows).encode()


def _json_array(rows: list[tuple[str, str]]) -> bytes:
    return json.dumps([{"text": t, "label": y} for t, y in rows]).encode()


_INSERTS = [
    b"\x00",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\r",
    b"\r\n",
    "\u2028".encode(),
    "\u0085".encode(),
    b"\x0b\x0c",
    b'"',
    b'""',
    b",",
    b"\t",
    b"\\",
    b"\n\n\n",
    b"\xc3",
    b"\xed\xa0\x80",  # an encoded surrogate: not UTF-8
    "😀".encode(),
    b"NaN",
    b"null",
    b"9" * 5000,
    b"[" * 3000,
    b'{"text":',
    b"A" * 70_000,
]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three random edits: flip, cut, insert a nasty snippet, duplicate a slice."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["flip", "cut", "insert", "insert", "dup", "drop"])
        at = rng.randrange(len(out) + 1) if out else 0
        if kind == "flip" and out:
            i = min(at, len(out) - 1)
            out[i] ^= 1 << rng.randrange(8)
        elif kind == "cut":
            out = out[:at]
        elif kind == "insert":
            out[at:at] = rng.choice(_INSERTS)
        elif kind == "dup" and out:
            end = min(len(out), at + rng.randint(1, 200))
            out[at:at] = out[at:end] * rng.randint(1, 5)
        elif kind == "drop" and out:
            del out[at : at + rng.randint(1, 50)]
    return bytes(out)


def _writer(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return build


def _text_cases(rng: random.Random) -> Iterator[Case]:
    makers: dict[str, Callable[[list[tuple[str, str]]], bytes]] = {
        "csv": _csv,
        "tsv": lambda rows: _csv(rows, "\t"),
        "jsonl": _jsonl,
        "json": _json_array,
    }
    for i in range(220):
        ext = ["csv", "tsv", "jsonl", "json"][i % 4]
        data = _mutate(makers[ext](_rows(rng)), rng)
        if i % 23 == 0:
            yield Case(f"m{i:03d}.{ext}.gz", _writer(f"m{i:03d}.{ext}.gz", gzip.compress(data)))
        elif i % 29 == 0:  # compressed, then damaged
            broken = _mutate(gzip.compress(data), rng)
            yield Case(f"z{i:03d}.{ext}.gz", _writer(f"z{i:03d}.{ext}.gz", broken))
        else:
            yield Case(f"m{i:03d}.{ext}", _writer(f"m{i:03d}.{ext}", data))
    rows = _rows(rng)
    handmade: dict[str, bytes] = {
        "u16le.csv": _csv(rows).decode().encode("utf-16"),
        "u16be.csv": b"\xfe\xff" + _csv(rows).decode().encode("utf-16-be"),
        "u16_nobom.csv": _csv(rows).decode().encode("utf-16-le"),
        "u32.jsonl": _jsonl(rows).decode().encode("utf-32"),
        "latin1.csv": "text,label\ncafé crème,pos\nthé,neg\n".encode("latin-1"),
        "empty.csv": b"",
        "blank.csv": b"  \n\n \n",
        "header_only.csv": b"text,label\n",
        "no_header.csv": b"good film,pos\nbad film,neg\n",
        "dup_header.csv": b"text,label,label\nx,pos,neg\ny,neg,pos\n",
        "ragged.csv": b"text,label\na,pos,extra,more\nb\nc,neg\n",
        "open_quote.csv": b'text,label\n"never closed,pos\nb,neg\n',
        "nan_labels.csv": b"text,label\na,NaN\nb,null\nc,N/A\nd,pos\ne,neg\n",
        "numeric_labels.csv": b"text,label\na,01\nb, 1\nc,1.0\nd,1\ne,0\nf,0\n",
        "one_class.csv": b"text,label\na,x\nb,x\nc,x\n",
        "sep2028.jsonl": "".join(
            json.dumps({"text": f"a\u2028b\u2029c\x85 {t}", "label": y}, ensure_ascii=False) + "\n"
            for t, y in rows
        ).encode(),
        "crlf.jsonl": _jsonl(rows).replace(b"\n", b"\r\n"),
        "nested.jsonl": b'{"text": {"a": 1}, "label": "pos"}\n{"text": "b", "label": [1]}\n',
        "list_line.jsonl": b'[1, 2]\n{"text": "a", "label": "x"}\n',
        "deep.jsonl": b"[" * 100_000 + b"\n",
        "bigint.jsonl": b'{"text": "a", "label": ' + b"9" * 5000 + b"}\n",
        "nan_json.jsonl": b'{"text": "a", "label": NaN}\n{"text": "b", "label": Infinity}\n',
        "bool_labels.jsonl": b'{"text": "a", "label": true}\n{"text": "b", "label": false}\n',
        "array_of_scalars.json": b"[1, 2, 3]",
        "object.json": b'{"text": "a", "label": "b"}',
        "surrogate.jsonl": b'{"text": "\\ud800", "label": "pos"}\n{"text": "x", "label": "neg"}\n',
        "nul_in_text.csv": b"text,label\na\x00b,pos\nc,neg\n",
        "only_bom.csv": b"\xef\xbb\xbf",
        "bad.xlsx": b"PK\x03\x04",
        "noext": _csv(rows),
        "gz_garbage.csv.gz": b"\x1f\x8b\x08\x00garbage",
        "bz2_garbage.jsonl.bz2": b"BZh9garbage",
        "xz_garbage.tsv.xz": b"\xfd7zXZ\x00garbage",
    }
    for name, data in handmade.items():
        yield Case(name, _writer(name, data))


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _parquet_cases(rng: random.Random) -> Iterator[Case]:
    rows = _rows(rng)
    texts, labels = [t for t, _ in rows], [y for _, y in rows]
    tables: dict[str, pa.Table] = {
        "good": pa.table({"text": texts, "label": labels}),
        "bytes_text": pa.table({"text": [t.encode() for t in texts], "label": labels}),
        "bytes_bad": pa.table({"text": [b"\xff" + t.encode() for t in texts], "label": labels}),
        "bytes_label": pa.table({"text": texts, "label": [y.encode() for y in labels]}),
        "int_labels": pa.table({"text": texts, "label": [i % 3 for i in range(len(texts))]}),
        "float_labels": pa.table(
            {"text": texts, "label": [float(i % 2) if i % 5 else None for i in range(len(texts))]}
        ),
        "null_labels": pa.table(
            {"text": texts, "label": [None if i % 4 == 0 else y for i, y in enumerate(labels)]}
        ),
        "null_texts": pa.table({"text": [None] * len(texts), "label": labels}),
        "list_text": pa.table({"text": [[t] for t in texts], "label": labels}),
        "list_label": pa.table({"text": texts, "label": [[y] for y in labels]}),
        "struct_label": pa.table({"text": texts, "label": [{"a": y} for y in labels]}),
        "dict_label": pa.table({"text": texts, "label": pa.array(labels).dictionary_encode()}),
        "timestamp_label": pa.table(
            {
                "text": texts,
                "label": pa.array([i % 2 for i in range(len(texts))], pa.timestamp("s")),
            }
        ),
        "no_rows": pa.table(
            {"text": pa.array([], pa.string()), "label": pa.array([], pa.string())}
        ),
        "dup_columns": pa.Table.from_arrays(
            [pa.array(texts), pa.array(labels), pa.array(labels)], names=["text", "label", "label"]
        ),
        "wrong_columns": pa.table({"review": texts, "stars": labels}),
        "int_column_names": pa.table({"0": texts, "1": labels}),
    }
    for name, table in tables.items():
        yield Case(f"p_{name}.parquet", _writer(f"p_{name}.parquet", _parquet_bytes(table)))
    good = _parquet_bytes(tables["good"])
    for i in range(30):
        data = _mutate(good, rng)
        yield Case(f"pm{i:02d}.parquet", _writer(f"pm{i:02d}.parquet", data))
    yield Case("p_gz.parquet.gz", _writer("p_gz.parquet.gz", gzip.compress(good)))


def _image_bytes(array: np.ndarray, fmt: str, mode: str | None = None) -> bytes:
    image = Image.fromarray(array)
    if mode is not None:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _image_folder(name: str, files: dict[str, bytes]) -> Case:
    def build(folder: Path) -> Path:
        root = folder / name
        for relative, data in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if data == b"<dir>":
                path.mkdir(exist_ok=True)
            else:
                path.write_bytes(data)
        root.mkdir(parents=True, exist_ok=True)
        return root

    return Case(name, build)


def _image_cases(rng: random.Random) -> Iterator[Case]:
    np_rng = np.random.default_rng(rng.randrange(2**32))

    def gray() -> np.ndarray:
        return np_rng.integers(0, 256, (8, 8), dtype=np.uint8)

    def good_files(fmt: str = "PNG", ext: str = "png", n: int = 4) -> dict[str, bytes]:
        return {
            f"{cls}/{i}.{ext}": _image_bytes(gray(), fmt)
            for cls in ("cat", "dog")
            for i in range(n)
        }

    modes = ["1", "L", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F", "LA"]
    for i in range(24):
        files = good_files()
        victim = rng.choice(sorted(files))
        files[victim] = _mutate(files[victim], rng)
        yield _image_folder(f"imgs_mut{i:02d}", files)
    for mode in modes:
        files = good_files()
        fmt = "TIFF" if mode in {"I;16", "I", "F", "CMYK"} else "PNG"
        ext = "tif" if fmt == "TIFF" else "png"
        files[f"dog/mode.{ext}"] = _image_bytes(gray(), fmt, mode)
        yield _image_folder(f"imgs_mode_{mode.replace(';', '_')}", files)
    specials: dict[str, dict[str, bytes]] = {
        "imgs_bomb": {**good_files(), "dog/huge.png": png_header(20_000, 20_000)},
        "imgs_warn": {**good_files(), "dog/big.png": png_header(10_000, 10_000)},
        "imgs_zero_dim": {**good_files(), "dog/zero.png": png_header(0, 0)},
        "imgs_empty_file": {**good_files(), "dog/empty.png": b""},
        "imgs_wrong_ext": {**good_files(), "dog/text.png": b"text,label\na,b\n"},
        "imgs_jpeg_as_png": {**good_files(), "dog/j.png": _image_bytes(gray(), "JPEG")},
        "imgs_truncated_jpeg": {
            **good_files("JPEG", "jpg"),
            "dog/cut.jpg": _image_bytes(gray(), "JPEG")[:40],
        },
        "imgs_mixed_sizes": {
            **good_files(),
            "dog/big.png": _image_bytes(np.zeros((9, 8), np.uint8), "PNG"),
        },
        "imgs_gif": {**good_files("GIF", "gif")},
        "imgs_bmp": {**good_files("BMP", "bmp")},
        "imgs_one_class": {f"cat/{i}.png": _image_bytes(gray(), "PNG") for i in range(4)},
        "imgs_no_classes": {f"{i}.png": _image_bytes(gray(), "PNG") for i in range(4)},
        "imgs_empty_class": {**good_files(), "bird/readme.txt": b"no images"},
        "imgs_nested": {**good_files(), "dog/sub/x.png": _image_bytes(gray(), "PNG")},
        "imgs_dir_named_png": {**good_files(), "dog/folder.png": b"<dir>"},
        "imgs_empty": {},
        "imgs.csv": {**good_files()},  # a folder named like a table
    }
    for name, files in specials.items():
        yield _image_folder(name, files)


def corpus() -> list[Case]:
    """Every case, in a fixed order from :data:`SEED`."""
    rng = random.Random(SEED)
    return [*_text_cases(rng), *_parquet_cases(rng), *_image_cases(rng)]


CASES = corpus()
VOCAB = Vocabulary.build([" ".join(WORDS)] * 2, max_size=100, min_freq=1)


def _train_path(path: Path) -> None:
    """What `neuroplast train` does with data.path before a run is created."""
    prepare(DataConfig(path=str(path), val_fraction=0.2, test_fraction=0.2, max_length=16))


def _evaluate_path(path: Path) -> None:
    """What `neuroplast evaluate --data` does with the file of a model trained on pos/neg."""
    cfg = DataConfig(path=str(path))
    raw = load_source(cfg, label_names=["neg", "pos"], path=str(path))
    as_test_set(raw, vocab=VOCAB if raw.modality == "text" else None, max_length=16)


def test_the_corpus_is_large_and_varied() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names)) >= 300
    kinds = {name.split(".")[1] if "." in name else "folder" for name in names}
    assert {"csv", "tsv", "jsonl", "json", "parquet", "folder"} <= kinds


def test_every_case_loads_or_fails_with_a_neuroplast_error(tmp_path: Path) -> None:
    outcomes: dict[str, str] = {}
    crashes = []
    for case in CASES:
        path = case.build(tmp_path)
        for label, load in (("train", _train_path), ("evaluate", _evaluate_path)):
            try:
                load(path)
                outcomes[f"{case.name}:{label}"] = "ok"
            except NeuroplastError as error:
                message = str(error)
                outcomes[f"{case.name}:{label}"] = type(error).__name__
                if not message or "Traceback" in message:
                    crashes.append(f"{case.name} ({label}): unhelpful message {message!r}")
            except Exception as error:  # the defect this test looks for
                crashes.append(f"{case.name} ({label}): {type(error).__name__}: {error}"[:300])
    assert not crashes, f"{len(crashes)} non-neuroplast errors:\n" + "\n".join(crashes)
    # The corpus exercises both ends: some files load, most are refused.
    results = list(outcomes.values())
    assert 0 < results.count("ok") < len(results) / 2


# --- a sample through the CLI, with the registry checked -----------------------------------

CLI_SAMPLE = sorted(random.Random(SEED + 1).sample(range(len(CASES)), 12))


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry that already holds a model (a failed train must not add a second one)."""
    from neuroplast.registry import Registry

    home = tmp_path_factory.mktemp("fuzz") / "home"
    with Registry(home) as registry:
        version = registry.create_version(
            "kept", architecture="cnn", task="text_classification", modality="text", config={}
        )
        registry.finalize_version(version.id, files={}, params_count=0, metrics={})
    return home


@pytest.mark.slow  # 12 CLI runs, two of which train: 10-30 s on a busy 2-core machine
@pytest.mark.parametrize("index", CLI_SAMPLE, ids=[CASES[i].name for i in CLI_SAMPLE])
def test_a_sample_through_neuroplast_train(
    cli: Callable[..., Result],
    cli_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    index: int,
) -> None:
    monkeypatch.setenv("NEUROPLAST_HOME", str(cli_home))
    case = CASES[index]
    path = case.build(tmp_path)
    image = path.is_dir()
    config = {
        "name": "fuzzed-images" if image else "fuzzed-texts",
        "data": {"path": str(path), "val_fraction": 0.2, "test_fraction": 0.2, "max_length": 16},
        "model": (
            {"architecture": "image_mlp", "hidden_dim": 8, "num_layers": 1}
            if image
            else {"architecture": "cnn", "embedding_dim": 8, "num_filters": 4}
        ),
        "train": {"epochs": 1, "batch_size": 16},
        "evaluation": {"baseline": False},
    }
    before = registry_snapshot(cli_home)
    result = cli("train", str(write_config(tmp_path / "run.yaml", config)))
    if result.code == 0:
        assert "registered fuzzed-" in result.out
        return
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert result.code in {2, 3}, result.err
    assert registry_snapshot(cli_home) == before
