"""The AutoPredictor runs each batch on the lane its choice table names for the batch's size;
the table's rule, summary and JSON form."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from neuroplast.errors import ConfigError, DataError
from neuroplast.inference.auto import AutoPredictor, build_backend
from neuroplast.inference.base import BasePredictor
from neuroplast.inference.choice import BatchChoice, ChoiceTable, LaneTiming, choose
from tests.inference._helpers import reviews, text_model

#: The tolerance of each backend against eager fp32 (as in test_auto's named backends).
TOLERANCE = {"torch": 1e-5, "onnx": 1e-5, "torch-int8": 0.05, "onnx-int8": 0.05}


def lane(size: int, backend: str, threads: int, ms: float, agreement: float = 1.0) -> LaneTiming:
    return LaneTiming(backend, threads, size, ms, ms / 10, agreement, repeats=5)


def hand_table() -> ChoiceTable:
    """A different lane at each size (fastest by construction), every backend agreeing."""
    figures = {  # size -> (backend, threads) -> ms per input
        1: {("torch", 1): 1.0, ("onnx-int8", 1): 0.2, ("onnx", 2): 0.5},
        8: {("torch", 1): 0.5, ("onnx-int8", 1): 0.6, ("onnx", 2): 0.7},
        32: {("torch", 1): 0.5, ("onnx", 2): 0.1, ("torch-int8", 1): 0.3},
        64: {("torch", 1): 0.5, ("onnx", 2): 0.3, ("torch-int8", 1): 0.2},
    }
    rows = [
        lane(size, backend, threads, ms)
        for size, lanes in figures.items()
        for (backend, threads), ms in lanes.items()
    ]
    return ChoiceTable.from_measured(rows, min_agreement=0.99)


@pytest.fixture(scope="module")
def backends() -> dict[str, BasePredictor]:
    loaded = text_model("cnn")
    onnx = {"threads": 2}
    return {
        "torch": build_backend(loaded, "torch"),
        "torch-int8": build_backend(loaded, "torch-int8"),
        "onnx": build_backend(loaded, "onnx", **onnx),  # type: ignore[arg-type]
        "onnx-int8": build_backend(loaded, "onnx-int8", **onnx),  # type: ignore[arg-type]
    }


@pytest.fixture()
def spied(
    backends: dict[str, BasePredictor], monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[tuple[str, int, int | None]]]:
    """Every run_logits call of every backend: (backend, batch rows, threads)."""
    calls: list[tuple[str, int, int | None]] = []
    for name, predictor in backends.items():
        original = predictor.run_logits

        def spy(
            batch: np.ndarray, *, threads: int | None = None, _n: str = name, _f: Any = original
        ) -> np.ndarray:
            calls.append((_n, len(batch), threads))
            result: np.ndarray = _f(batch, threads=threads)
            return result

        monkeypatch.setattr(predictor, "run_logits", spy)
    yield calls


def test_each_batch_runs_on_the_lane_of_its_size(
    backends: dict[str, BasePredictor], spied: list[tuple[str, int, int | None]]
) -> None:
    table = hand_table()
    assert [(c.backend, c.threads) for c in table.choices] == [
        ("onnx-int8", 1),
        ("torch", 1),
        ("onnx", 2),
        ("torch-int8", 1),
    ]
    auto = AutoPredictor(backends, table)
    assert auto.batch_size == 64 and set(auto.backends) == set(backends)
    texts = reviews()[0]
    expected = {
        1: [("onnx-int8", 1, 1)],
        5: [("torch", 5, 1)],  # the entry of 8, the smallest measured size >= 5
        20: [("onnx", 20, 2)],  # the entry of 32
        64: [("torch-int8", 64, 1)],
        # split into batches of the largest size (64); the last 8 run on the entry of 8
        200: [("torch-int8", 64, 1)] * 3 + [("torch", 8, 1)],
    }
    for n, runs in expected.items():
        spied.clear()
        probs = auto.predict_proba(texts[:n])
        assert spied == runs, f"a call of {n}"
        assert probs.shape == (n, 2)


def test_auto_matches_fp32_within_each_lanes_tolerance_at_every_size(
    backends: dict[str, BasePredictor],
) -> None:
    auto = AutoPredictor(backends, hand_table())
    texts = reviews()[0][:300]
    fp32 = backends["torch"].predict_proba(texts)
    for n in (1, 5, 8, 20, 32, 64, 200, 300):
        lanes = {auto.table.for_size(len(b)).backend for _, b in auto.batches(texts[:n])}
        tolerance = max(TOLERANCE[name] for name in lanes)
        diff = np.abs(auto.predict_proba(texts[:n]) - fp32[:n]).max()
        assert diff <= tolerance, f"a call of {n} on {lanes}: {diff}"
        one_by_one = np.concatenate([auto.predict_proba(texts[i : i + 1]) for i in range(4)])
        assert np.abs(one_by_one - fp32[:4]).max() <= TOLERANCE["onnx-int8"]


def test_the_rule_for_a_batch_of_n() -> None:
    table = hand_table()
    assert table.sizes == (1, 8, 32, 64) and table.max_batch == 64
    picked = {n: table.for_size(n).batch_size for n in (1, 2, 8, 9, 32, 33, 64, 65, 1000)}
    assert picked == {1: 1, 2: 8, 8: 8, 9: 32, 32: 32, 33: 64, 64: 64, 65: 64, 1000: 64}
    assert table.summary() == (
        "onnx-int8 (1 thread) up to 1, torch (1 thread) up to 8, onnx (2 threads) up to 32, "
        "torch-int8 (1 thread) up to 64"
    )


def test_the_fastest_agreeing_lane_wins_and_fp32_is_always_eligible() -> None:
    rows = [
        lane(1, "torch", 1, 1.0),
        lane(1, "torch", 2, 1.2),
        lane(1, "onnx", 1, 0.4, agreement=0.999),
        lane(1, "onnx-int8", 1, 0.2, agreement=0.95),  # fastest, changes 5 % of labels
        lane(8, "torch", 1, 0.9),
        lane(8, "torch", 2, 0.5),
        lane(8, "onnx-int8", 2, 0.1, agreement=0.98),
    ]
    by_size = {c.batch_size: c for c in choose(rows, min_agreement=0.99)}
    assert (by_size[1].backend, by_size[1].threads) == ("onnx", 1)
    assert (by_size[8].backend, by_size[8].threads) == ("torch", 2)
    assert by_size[1].eager_ms == 1.2  # eager fp32 on all its threads
    assert by_size[1].speedup == pytest.approx(3.0)
    assert choose(rows, min_agreement=0.9)[0].backend == "onnx-int8"
    assert choose(rows, min_agreement=1.0)[0].backend == "torch"
    with pytest.raises(ConfigError, match=r"no torch \(eager fp32\) timing at batch size 4"):
        choose([lane(4, "onnx", 1, 0.1)], min_agreement=0.99)
    with pytest.raises(ConfigError, match=r"min_agreement must be a share in \[0, 1\]"):
        choose(rows, min_agreement=2.0)


def test_the_table_round_trips_through_json() -> None:
    table = hand_table()
    again = ChoiceTable.from_json(table.to_json(), min_agreement=0.99)
    assert again.measured == table.measured and again.choices == table.choices
    assert again.source == "cache" and table.source == "measured"
    assert all(isinstance(c, BatchChoice) for c in again.choices)
    stricter = again.with_min_agreement(1.0)
    assert stricter.min_agreement == 1.0 and stricter.measured == table.measured
    with pytest.raises(ValueError, match="not a neuroplast-auto-choice document"):
        ChoiceTable.from_json({"format": "pickle"}, min_agreement=0.99)


def test_a_table_naming_a_backend_that_was_not_built_is_refused(
    backends: dict[str, BasePredictor],
) -> None:
    only_torch = {"torch": backends["torch"]}
    with pytest.raises(ConfigError, match="the choice table runs onnx-int8, onnx, torch-int8"):
        AutoPredictor(only_torch, hand_table())


def test_a_lane_on_threads_the_backend_does_not_have_is_a_clear_error(
    backends: dict[str, BasePredictor],
) -> None:
    torch_backend = build_backend(text_model("cnn"), "torch")  # one torch thread here
    assert torch_backend.thread_counts == (1,)
    batch = next(iter(torch_backend.batches(["a fine film"])))[1]
    with pytest.raises(DataError, match="the torch backend can run on 1 intra-op thread, not 2"):
        torch_backend.run_logits(batch, threads=2)
    assert backends["onnx"].thread_counts == (1, 2)
