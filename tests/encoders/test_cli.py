"""``neuroplast embed``, ``index build | list`` and ``search`` as a user runs them, and each
bad input they handle: one clear line and the error's exit code."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import Result

CORPUS = """text,topic
"The Bank of England raised interest rates to curb inflation.",business
"Shares fell as the central bank signalled more rate rises.",business
"The striker scored twice in the cup final.",sport
"The goalkeeper saved a late penalty.",sport
"A new phone with a faster chip goes on sale.",tech
"The software update fixes a security flaw.",tech
"""


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.csv"
    path.write_text(CORPUS)
    return path


@pytest.mark.slow  # loads MiniLM when it runs first: 7-20 s
def test_embed_twice_then_index_and_search(
    cli: Callable[..., Result], home: Path, corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "vectors.parquet"
    first = cli("embed", "minilm", "--file", str(corpus), "-o", str(out), "--json")
    assert first.code == 0, first.err
    report = json.loads(first.out)
    assert (report["texts"], report["computed"], report["cached"], report["dim"]) == (6, 6, 0, 384)
    again = cli("embed", "minilm", "--file", str(corpus), "-o", str(tmp_path / "v.npy"))
    assert again.code == 0 and "6 from the cache, 0 computed" in again.out
    import pyarrow.parquet as pq

    table = pq.read_table(out)
    assert table.schema.metadata[b"neuroplast.encoder"].startswith(b"minilm@")
    from_parquet = np.stack(table.column("vector").to_numpy(zero_copy_only=False))
    assert np.array_equal(from_parquet, np.load(tmp_path / "v.npy"))

    built = cli("index", "build", "news", "--encoder", "minilm", "--data", str(corpus),
                "--label-column", "topic", "--json")  # fmt: skip
    assert built.code == 0, built.err
    assert json.loads(built.out)["vectors"] == 6 and json.loads(built.out)["kind"] == "flat"
    found = cli("search", "news", "interest rates and inflation", "--top-k", "2", "--json")
    assert found.code == 0, found.err
    hits = json.loads(found.out)[0]["hits"]
    assert [h["label"] for h in hits] == ["business", "business"]
    assert hits[0]["score"] > hits[1]["score"]
    listed = cli("index", "list")
    assert "news:1" in listed.out and "flat" in listed.out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["embed", "minilm", "--file", "{corpus}", "--text-column", "body"], 3,
         "has no column 'body'; columns: text, topic"),
        (["embed", "minilm", "--file", "{empty}"], 3, "is empty"),
        (["embed", "minilm"], 3, "nothing to embed"),
        (["embed", "bert", "some text"], 2, "unknown encoder 'bert'; choose one of: minilm"),
        (["embed", "minilm", "x", "-o", "v.csv"], 2, "write .parquet or .npy"),
        (["embed", "minilm", "x", "--dtype", "int8"], 2, "dtype must be one of"),
        (["index", "build", "i", "--data", "{corpus}", "--label-column", "kind"], 3,
         "has no column 'kind'"),
        (["index", "build", "i", "--data", "no_such_set"], 3, "no_such_set"),
        (["index", "build", "i", "--data", "{corpus}", "--kind", "lsh"], 2,
         "index kind must be one of"),
        (["search", "nope", "a query"], 4, "no model version matches 'nope'"),
    ],
)  # fmt: skip
def test_bad_inputs_get_one_line_and_the_errors_code(
    cli: Callable[..., Result],
    home: Path,
    corpus: Path,
    tmp_path: Path,
    args: list[str],
    code: int,
    message: str,
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    argv = [a.format(corpus=corpus, empty=empty) for a in args]
    result = cli(*argv)
    assert result.code == code, result.err
    assert result.err.startswith("error: ") and message in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_missing_texts_in_the_corpus_are_named(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "holes.csv"
    path.write_text('text,label\n"fine",a\n,b\n"  ",a\n')
    result = cli("index", "build", "holes", "--data", str(path))
    assert result.code == 3
    assert "2 rows without text in column 'text' (rows 3, 4)" in result.err


@pytest.mark.parametrize(
    "args", [["predict", "news", "a text"], ["evaluate", "news"], ["explain", "news", "a text"]]
)
def test_a_model_verb_on_an_index_says_it_is_an_index(
    cli: Callable[..., Result], home: Path, args: list[str]
) -> None:
    from neuroplast.encoders.index import VectorIndex, save_index
    from neuroplast.registry import Registry

    vectors = np.eye(3, 384, dtype=np.float32)
    save_index(
        Registry(home), "news", VectorIndex.build(vectors, encoder="minilm@0123456789abcdef")
    )
    result = cli(*args)
    assert result.code == 2, result.err
    assert "news:1 is a vector index" in result.err
    assert 'query it with `neuroplast search news "QUERY"`' in result.err
    assert len(result.err.strip().splitlines()) == 1
