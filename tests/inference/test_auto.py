"""``backend="auto"``: measures every lane (backend x threads) at every batch size on real
inputs, keeps per size the fastest that agrees with eager fp32, and caches the table per
machine as JSON; named backends give the same answers."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import neuroplast.inference.auto as auto
from neuroplast.errors import ConfigError, DataError
from neuroplast.inference import list_backends
from neuroplast.inference.auto import AutoPredictor, build_backend, create_predictor, table_sizes
from neuroplast.inference.base import BasePredictor
from neuroplast.inference.choice import FORMAT
from neuroplast.inference.timing import Timing
from tests.inference._helpers import reviews, text_model

Lane = tuple[str, int]


def test_auto_measures_every_lane_at_every_size_and_keeps_agreeing_ones() -> None:
    loaded = text_model("cnn")
    sample = reviews()[0][600:664]
    predictor = create_predictor(loaded, backend="auto", sample=sample, max_batch=16, repeats=2)
    assert isinstance(predictor, AutoPredictor) and predictor.table is not None
    table = predictor.table
    assert table.sizes == (1, 8, 16) and predictor.batch_size == 16
    lanes = {(t.backend, t.threads, t.batch_size) for t in table.measured}
    # one torch thread in these tests; ONNX Runtime has a 1-thread and an all-cores session
    onnx_threads = build_backend(loaded, "onnx").thread_counts
    expected = {("torch", 1), ("torch-int8", 1)} | {
        (name, t) for name in ("onnx", "onnx-int8") for t in onnx_threads
    }
    assert lanes == {(b, t, s) for b, t in expected for s in (1, 8, 16)}
    assert all(t.ms_per_input > 0 and t.spread_ms >= 0 for t in table.measured)
    assert all(0.0 <= t.agreement <= 1.0 for t in table.measured)
    for choice in table.choices:
        assert choice.backend == "torch" or choice.agreement >= 0.99
        at_size = [t for t in table.measured if t.batch_size == choice.batch_size]
        eligible = [t for t in at_size if t.backend == "torch" or t.agreement >= 0.99]
        assert choice.ms_per_input == min(t.ms_per_input for t in eligible)
    texts = reviews()[0][700:760]
    reference = build_backend(loaded, "torch").predict_proba(texts)
    agree = np.mean(predictor.predict_proba(texts).argmax(1) == reference.argmax(1))
    assert agree >= 0.95


@pytest.fixture()
def fake_timing(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Fixed figures in place of timings, by lane and batch size: ``figures[(backend,
    threads)]`` is a function of the batch size giving ms per input (default 5.0). Counts
    the calls of the timing helper in ``calls``."""
    state: dict[str, Any] = {"figures": {}, "calls": 0}
    real_lane_call = auto._lane_call

    def tagged(predictor: BasePredictor, threads: int, batches: list[np.ndarray]) -> Any:
        run = real_lane_call(predictor, threads, batches)
        run.lane = (predictor.backend, threads, len(batches[0]))  # type: ignore[attr-defined]
        return run

    def fake(calls: list[Any], **kwargs: Any) -> list[Timing]:
        state["calls"] += 1
        out = []
        for call in calls:
            backend, threads, size = call.lane
            ms = state["figures"].get((backend, threads), lambda n: 5.0)(size)
            repeated = kwargs.get("repeats", 5) > 1  # else the screening round
            out.append(Timing.from_samples([0.9 * ms, ms, 1.1 * ms] if repeated else [ms]))
        return out

    monkeypatch.setattr(auto, "_lane_call", tagged)
    monkeypatch.setattr(auto, "time_calls", fake)
    yield state


def test_the_choice_follows_the_timings_size_by_size(fake_timing: dict[str, Any]) -> None:
    fake_timing["figures"] = {
        ("onnx-int8", 1): lambda n: 1.0 if n <= 8 else 9.0,  # fastest for small batches
        ("onnx", 2): lambda n: 2.0,  # fastest from 32 on
        ("torch", 1): lambda n: 4.0,
    }
    predictor = create_predictor(
        text_model("cnn"), backend="auto", sample=reviews()[0][:32], threads=2
    )
    assert fake_timing["calls"] == 2 * 4  # per size: one screening round, then the repeats
    assert predictor.table is not None
    picked = {c.batch_size: (c.backend, c.threads) for c in predictor.table.choices}
    assert picked == {1: ("onnx-int8", 1), 8: ("onnx-int8", 1), 32: ("onnx", 2), 64: ("onnx", 2)}
    first = predictor.table.choices[0]
    assert first.ms_per_input == pytest.approx(1.0)
    assert first.spread_ms == pytest.approx(0.05)  # (1.05 - 0.95) / 2
    assert first.eager_ms == pytest.approx(4.0) and first.speedup == pytest.approx(4.0)
    assert set(predictor.backends) == {"onnx-int8", "onnx"}  # the others were let go
    # lanes over 3x the fastest agreeing one keep their one screening timing
    repeats = {(t.batch_size, t.ms_per_input): t.repeats for t in predictor.table.measured}
    assert repeats[(1, 5.0)] == repeats[(1, 4.0)] == 1 and repeats[(1, 1.0)] == 3
    assert repeats[(32, 5.0)] == repeats[(32, 2.0)] == 3  # within 3x of 2.0


def test_a_disagreeing_backend_is_never_chosen(
    fake_timing: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """onnx-int8 made to flip every label, and timed the fastest at every size."""
    real_build = auto.build_backend

    def sabotaged(loaded: Any, backend: str, **kwargs: Any) -> BasePredictor:
        predictor = real_build(loaded, backend, **kwargs)
        if backend == "onnx-int8":
            run = predictor.run_logits
            monkeypatch.setattr(
                predictor, "run_logits", lambda batch, threads=None: -run(batch, threads=threads)
            )
        return predictor

    monkeypatch.setattr(auto, "build_backend", sabotaged)
    fake_timing["figures"] = {("onnx-int8", 1): lambda n: 0.1, ("onnx-int8", 2): lambda n: 0.1}
    predictor = create_predictor(text_model("cnn"), backend="auto", sample=reviews()[0][:64])
    assert predictor.table is not None
    rows = [t for t in predictor.table.measured if t.backend == "onnx-int8"]
    assert rows and all(t.agreement < 0.5 for t in rows)
    assert all(c.backend != "onnx-int8" for c in predictor.table.choices)
    assert "onnx-int8" not in predictor.backends
    # the lanes that agree are screened against the fastest agreeing one, not against the
    # disagreeing onnx-int8: they are all repeated, so the choice rests on medians
    assert all(t.repeats == 3 for t in predictor.table.measured)


# ---- the per-machine cache -------------------------------------------------------------------
def auto_on(cache: Path, **kwargs: Any) -> AutoPredictor:
    options: dict[str, Any] = {"sample": reviews()[0][:32], "model_uid": "uid-a", "threads": 2}
    predictor = create_predictor(
        text_model("cnn"), backend="auto", cache_dir=cache, **{**options, **kwargs}
    )
    assert isinstance(predictor, AutoPredictor)
    return predictor


@pytest.fixture()
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the auto cache must never be unpickled")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)


@pytest.mark.usefixtures("no_unpickling")
def test_the_table_is_cached_as_json_and_reused_without_measuring(
    tmp_path: Path, fake_timing: dict[str, Any]
) -> None:
    fake_timing["figures"] = {("onnx", 1): lambda n: 1.0}
    cache = tmp_path / "cache" / "auto"
    first = auto_on(cache)
    assert fake_timing["calls"] == 8 and first.table is not None
    files = list(cache.glob("*.json"))
    assert len(files) == 1 and not list(cache.glob(".*.tmp"))
    document = json.loads(files[0].read_text(encoding="utf-8"))
    assert document["format"] == FORMAT and document["schema_version"] == 1
    key = document["fingerprint"]
    assert key["model_uid"] == "uid-a" and key["sizes"] == [1, 8, 32, 64]
    assert key["torch_threads"] == torch.get_num_threads() == 1 and key["onnx_threads"] == 2
    assert key["cpu"] and set(key["versions"]) == {"neuroplast", "torch", "onnxruntime"}
    assert [c["backend"] for c in document["choices"]] == ["onnx"] * 4

    fake_timing["calls"] = 0
    again = auto_on(cache, sample=None)  # no sample needed: nothing is measured
    assert fake_timing["calls"] == 0
    assert again.table is not None and again.table.source == "cache"
    assert again.table.choices == first.table.choices
    assert set(again.backends) == {"onnx"}  # only what the table runs is built
    texts = reviews()[0][100:140]
    np.testing.assert_allclose(again.predict_proba(texts), first.predict_proba(texts), atol=1e-6)


@pytest.mark.parametrize(
    "change",
    [
        {"threads": 1},  # ONNX Runtime threads
        {"torch_threads": 2},
        {"model_uid": "uid-b"},
        {"max_batch": 128},
        {"remeasure": True},
    ],
    ids=lambda c: next(iter(c)),
)
def test_the_cache_is_not_used_for_another_machine_state_or_model(
    tmp_path: Path, fake_timing: dict[str, Any], change: dict[str, Any]
) -> None:
    cache = tmp_path / "auto"
    auto_on(cache)
    fake_timing["calls"] = 0
    kwargs = dict(change)
    threads = kwargs.pop("torch_threads", torch.get_num_threads())
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        predictor = auto_on(cache, **kwargs)
    finally:
        torch.set_num_threads(before)
    assert fake_timing["calls"] > 0, "measured again"
    assert predictor.table is not None and predictor.table.source == "measured"
    expected_files = 1 if "remeasure" in change else 2  # remeasure replaces the same entry
    assert len(list(cache.glob("*.json"))) == expected_files


@pytest.mark.usefixtures("no_unpickling")
def test_a_broken_or_foreign_cache_file_is_measured_again(
    tmp_path: Path, fake_timing: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "auto"
    auto_on(cache)
    (path,) = cache.glob("*.json")
    good = path.read_text(encoding="utf-8")
    corruptions: list[Callable[[str], bytes]] = [
        lambda text: pickle.dumps({"format": FORMAT}),  # a pickle where JSON belongs
        lambda text: text[: len(text) // 2].encode(),  # truncated
        lambda text: text.replace('"uid-a"', '"uid-z"').encode(),  # another model's table
    ]
    for corrupt in corruptions:
        path.write_bytes(corrupt(good))
        fake_timing["calls"] = 0
        caplog.clear()
        predictor = auto_on(cache)
        assert fake_timing["calls"] > 0 and predictor.table is not None
        assert predictor.table.source == "measured"
        assert "auto backend cache" in caplog.text
        assert json.loads(path.read_text(encoding="utf-8"))["format"] == FORMAT  # replaced


# ---- named backends and errors ---------------------------------------------------------------
@pytest.mark.parametrize("backend", list_backends(include_auto=False))
def test_named_backends_agree_with_fp32(backend: str) -> None:
    loaded = text_model("lstm")
    texts = reviews()[0][600:700]
    fp32 = build_backend(loaded, "torch").predict_proba(texts)
    probs = build_backend(loaded, backend).predict_proba(texts)
    assert probs.shape == (100, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    tolerance = 1e-5 if backend in ("torch", "onnx") else 0.05
    assert np.abs(probs - fp32).max() <= tolerance
    single = build_backend(loaded, backend).predict_proba(texts[:1])  # the 1-thread path
    assert np.abs(single - fp32[:1]).max() <= tolerance


def test_the_measured_sizes() -> None:
    assert table_sizes(64) == (1, 8, 32, 64)
    assert table_sizes(128) == (1, 8, 32, 64, 128)
    assert table_sizes(20) == (1, 8, 20)
    assert table_sizes(1) == (1,)
    with pytest.raises(ConfigError, match="max_batch must be a whole number of inputs >= 1"):
        table_sizes(0)


def test_bad_backend_and_missing_sample_are_clear_errors() -> None:
    loaded = text_model("cnn")
    with pytest.raises(ConfigError, match="unknown backend 'gpu'; choose one of auto"):
        create_predictor(loaded, backend="gpu")
    with pytest.raises(ConfigError, match="backend 'auto' measures the backends on real inputs"):
        create_predictor(loaded, backend="auto")
    with pytest.raises(ConfigError, match=r"min_agreement must be a share in \[0, 1\]"):
        create_predictor(loaded, backend="auto", sample=["fine"], min_agreement=1.5)
    with pytest.raises(ConfigError, match="max_batch must be a whole number"):
        create_predictor(loaded, backend="auto", sample=["fine"], max_batch=0)
    with pytest.raises(DataError, match="top-k must be between 1 and the number of classes"):
        build_backend(loaded, "torch").predict(["fine"], top_k=3)


# ---- neuroplast bench ------------------------------------------------------------------------
def test_bench_shows_the_choice_table_and_caches_it(
    trained_home: Path, run_cli: Callable[..., Any]
) -> None:
    args = ["bench", "rt-small:1", "--inputs", "64", "--repeats", "1", "--max-batch", "8"]
    home = ["--home", str(trained_home)]
    first = run_cli(*args, "--remeasure", "--json", *home)
    assert first.code == 0, first.err
    document = json.loads(first.out)
    table = document["auto"]
    assert table["source"] == "measured" and document["backend"] == "auto"
    assert document["cpu"] == table["fingerprint"]["cpu"]
    assert [c["batch_size"] for c in table["choices"]] == [1, 8]
    for choice in table["choices"]:
        assert set(choice) == {
            "batch_size",
            "backend",
            "threads",
            "ms_per_input",
            "spread_ms",
            "agreement",
            "eager_ms",
            "speedup",
        }
        assert choice["backend"] == "torch" or choice["agreement"] >= 0.99
        assert choice["speedup"] == pytest.approx(choice["eager_ms"] / choice["ms_per_input"])
    assert {(t["backend"], t["batch_size"]) for t in table["measured"]} >= {
        ("torch", 1),
        ("onnx", 8),
    }
    assert list((trained_home / "cache" / "auto").glob("*.json"))

    again = run_cli(*args, *home)  # the plain table, read from the cache
    assert again.code == 0, again.err
    assert "backend auto, per batch size" in again.out and "this machine's cache" in again.out
    assert "<= 8" in again.out and "speed-up" in again.out
