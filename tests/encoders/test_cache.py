"""The registry's embedding cache: hits and misses counted, rows evicted least recently used
first, dtypes stated, and a cached vector the same bits as the one first computed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, select

from neuroplast.encoders.cache import EmbeddingCache, normalise_text, text_key
from neuroplast.encoders.service import Embeddings
from neuroplast.errors import ConfigError, DataError
from neuroplast.registry import Registry
from neuroplast.registry.schema import EmbeddingRow

REVIEWS = [
    "A witty, warm film that earns its tears.",
    "Two hours of my life I will never get back.",
    "The plot wanders but the cast holds it together.",
    "Gorgeous to look at, empty at its core.",
    "A witty,   warm film that earns its tears.\n",  # the first one, other white space
]


def _vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_white_space_runs_share_a_key_and_nothing_else_does() -> None:
    assert normalise_text("  a \t\n b\r\n") == "a b"
    assert text_key(REVIEWS[0]) == text_key(REVIEWS[4])
    assert text_key("Rates") != text_key("rates")  # the tokenizer lower-cases, not the key
    assert len(text_key("x")) == 64


def test_rows_are_evicted_least_recently_used_first(tmp_path: Path) -> None:
    cache = EmbeddingCache(Registry(tmp_path / "home"), max_entries=3)
    vectors = dict(zip("abcd", _vectors(4), strict=True))
    cache.store("enc@1", {k: vectors[k] for k in "abc"}, "float32", hits=0)
    assert set(cache.lookup("enc@1", ["a"], "float32")) == {"a"}  # a is now the newest
    evicted = cache.store("enc@1", {"d": vectors["d"]}, "float32", hits=1)
    assert evicted == 1
    kept = cache.lookup("enc@1", list("abcd"), "float32")
    assert set(kept) == {"a", "c", "d"}  # b: inserted with c, used least recently
    assert np.array_equal(kept["d"], vectors["d"])
    stats = cache.stats("enc@1")
    assert (stats.entries, stats.hits, stats.misses) == (3, 1, 4)


def test_encoders_and_dtypes_do_not_mix(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "home")
    cache = EmbeddingCache(registry, max_entries=10)
    v = _vectors(1)[0]
    cache.store("enc@1", {"k": v}, "float16", hits=0)
    assert cache.lookup("enc@2", ["k"], "float16") == {}  # other weights
    assert cache.lookup("enc@1", ["k"], "float32") == {}  # stored as float16
    half = cache.lookup("enc@1", ["k"], "float16")["k"]
    assert half.dtype == np.float16 and np.array_equal(half, v.astype(np.float16))
    with registry.session(readonly=True) as s:
        row = s.scalars(select(EmbeddingRow)).one()
        assert (row.dtype, row.dim, len(row.vector)) == ("float16", 8, 16)
    cache.store("enc@1", {"k": v}, "float32", hits=0)  # replaces the float16 row
    assert np.array_equal(cache.lookup("enc@1", ["k"], "float32")["k"], v)
    assert cache.clear("enc@1") == 1 and cache.stats("enc@1").misses == 0


def test_a_zero_bound_or_a_bad_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = Registry(tmp_path / "home")
    off = EmbeddingCache(registry, max_entries=0)
    off.store("enc@1", {"k": _vectors(1)[0]}, "float32", hits=0)
    assert off.lookup("enc@1", ["k"], "float32") == {}
    monkeypatch.setenv("NEUROPLAST_EMBED_CACHE_SIZE", "lots")
    with pytest.raises(ConfigError, match="NEUROPLAST_EMBED_CACHE_SIZE='lots'"):
        EmbeddingCache(registry)
    monkeypatch.setenv("NEUROPLAST_EMBED_CACHE_SIZE", "7")
    assert EmbeddingCache(registry).max_entries == 7


@pytest.mark.slow  # loads MiniLM when it runs first: 7-20 s
def test_embed_reads_back_the_same_bits_and_counts(tmp_path: Path) -> None:
    service = Embeddings(Registry(tmp_path / "home"))
    uncached = service.embed(REVIEWS, cache=False)
    first = service.embed(REVIEWS)
    assert service.last_call is not None
    assert (service.last_call.distinct, service.last_call.cached) == (4, 0)
    assert service.last_call.computed == 4
    second = service.embed(REVIEWS)
    assert (service.last_call.cached, service.last_call.computed) == (4, 0)
    assert first.dtype == np.float32 and first.shape == (5, 384)
    assert np.array_equal(first, second) and np.array_equal(first, uncached)
    assert np.array_equal(first[0], first[4])
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-6)
    stats = service.cache_stats()
    assert (stats.entries, stats.hits, stats.misses) == (4, 4, 4)
    assert stats.encoder.startswith("minilm@")
    half = service.embed(REVIEWS[:2], dtype="float16")  # other dtype: computed, kept apart
    assert half.dtype == np.float16 and np.array_equal(half, first[:2].astype(np.float16))
    assert np.array_equal(service.embed(REVIEWS[:2], dtype="float16"), half)


def test_embed_rejects_what_is_not_a_list_of_texts(tmp_path: Path) -> None:
    service = Embeddings(Registry(tmp_path / "home"))
    with pytest.raises(DataError, match="not one string"):
        service.embed("one text")
    with pytest.raises(DataError, match="item 1 is int"):
        service.embed(["a", 3])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="unknown encoder 'bert'; choose one of: minilm"):
        service.embed(["a"], "bert")
    with pytest.raises(ConfigError, match="dtype must be one of float32, float16"):
        service.embed(["a"], dtype="int8")
    assert service.embed([]).shape == (0, 384)


def test_a_race_with_another_writer_is_retried_once_then_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy.exc import IntegrityError

    cache = EmbeddingCache(Registry(tmp_path / "home"), max_entries=10)
    real, calls = cache._store, []

    def racing(*args: object) -> int:
        calls.append(1)
        if len(calls) in (1, 3, 4):  # the first call of each store loses the race
            raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(cache, "_store", racing)
    cache.store("enc@1", {"k": _vectors(1)[0]}, "float32", hits=0)
    assert set(cache.lookup("enc@1", ["k"], "float32")) == {"k"}  # kept on the retry
    assert cache.store("enc@1", {"j": _vectors(1)[0]}, "float32", hits=0) == 0
    assert "1 vectors not kept" in caplog.text and len(calls) == 4


def test_the_cache_uses_only_the_registrys_public_api(tmp_path: Path) -> None:
    import inspect

    import neuroplast.encoders.cache as module

    assert "registry._" not in inspect.getsource(module)
    registry = Registry(tmp_path / "home")
    EmbeddingCache(registry, max_entries=5).store("enc@1", {"k": _vectors(1)[0]}, "float32", hits=0)
    with registry.session(readonly=True) as s:
        assert s.scalar(select(EmbeddingRow.key)) == "k"
    with pytest.raises(ZeroDivisionError), registry.session() as s:  # rolled back
        s.execute(delete(EmbeddingRow))
        raise ZeroDivisionError
    assert EmbeddingCache(registry).stats("enc@1").entries == 1
