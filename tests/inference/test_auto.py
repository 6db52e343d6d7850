"""``backend="auto"``: measures every backend on real inputs and keeps the fastest that
agrees with eager fp32; named backends give the same answers."""

from __future__ import annotations

import numpy as np
import pytest

from neuroplast.errors import ConfigError, DataError
from neuroplast.inference.auto import BackendTiming, build_backend, choose, create_predictor
from tests.inference._helpers import reviews, text_model


def test_auto_measures_every_backend_and_keeps_an_agreeing_one() -> None:
    loaded = text_model("cnn")
    sample = reviews()[0][600:664]
    predictor = create_predictor(loaded, backend="auto", sample=sample)
    names = [t.backend for t in predictor.timings]
    assert names == ["torch", "torch-int8", "onnx", "onnx-int8"]
    chosen = [t for t in predictor.timings if t.chosen]
    assert len(chosen) == 1 and chosen[0].backend == predictor.backend
    assert chosen[0].agreement >= 0.99
    assert all(t.batch1_ms > 0 and t.batch_ms > 0 for t in predictor.timings)
    assert all(t.batch1_spread_ms >= 0 and t.batch_spread_ms >= 0 for t in predictor.timings)
    texts = reviews()[0][700:760]
    reference = build_backend(loaded, "torch").predict_proba(texts)
    agree = np.mean(predictor.predict_proba(texts).argmax(1) == reference.argmax(1))
    assert agree >= 0.95


def test_auto_times_every_backend_with_the_shared_helper(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fixed figures in place of timings: the choice and the spreads follow them."""
    from neuroplast.inference.timing import Timing

    figures = {"torch": 4.0, "torch-int8": 3.0, "onnx": 1.0, "onnx-int8": 2.0}
    seen: list[int] = []

    def fake(calls: list[object], **kwargs: object) -> list[Timing]:
        seen.append(len(calls))
        return [Timing.from_samples([0.9 * ms, ms, 1.1 * ms]) for ms in list(figures.values())][
            : len(calls)
        ]

    monkeypatch.setattr("neuroplast.inference.auto.time_calls", fake)
    predictor = create_predictor(text_model("cnn"), backend="auto", sample=reviews()[0][:32])
    assert seen == [4, 4]  # batch 1, then the whole sample; the four backends interleaved
    assert predictor.backend == "onnx"
    by_name = {t.backend: t for t in predictor.timings}
    assert by_name["onnx"].chosen and by_name["onnx"].batch1_ms == pytest.approx(1.0)
    assert by_name["torch"].batch1_spread_ms == pytest.approx(0.2)  # (4.4 - 3.6) / 2 / 2
    assert by_name["torch-int8"].batch_ms == pytest.approx(3.0)


def test_auto_skips_a_faster_backend_that_disagrees() -> None:
    timings = [
        BackendTiming("torch", 1.0, 10.0, 64, 1.0),
        BackendTiming("torch-int8", 0.8, 9.0, 64, 1.0),
        BackendTiming("onnx", 0.4, 6.0, 64, 0.999),
        BackendTiming("onnx-int8", 0.2, 3.0, 64, 0.95),  # fastest, but changes 5% of labels
    ]
    assert choose(timings, 0.99) == 2
    assert choose(timings, 0.9) == 3
    assert choose(timings, 1.0) == 1
    slow = [BackendTiming("torch", 1.0, 10.0, 64, 1.0), BackendTiming("onnx", 2.0, 30.0, 64, 1.0)]
    assert choose(slow, 0.99) == 0


@pytest.mark.parametrize("backend", ["torch", "torch-int8", "onnx", "onnx-int8"])
def test_named_backends_agree_with_fp32(backend: str) -> None:
    loaded = text_model("lstm")
    texts = reviews()[0][600:700]
    fp32 = build_backend(loaded, "torch").predict_proba(texts)
    probs = build_backend(loaded, backend).predict_proba(texts)
    assert probs.shape == (100, 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    tolerance = 1e-5 if backend in ("torch", "onnx") else 0.05
    assert np.abs(probs - fp32).max() <= tolerance


def test_bad_backend_and_missing_sample_are_clear_errors() -> None:
    loaded = text_model("cnn")
    with pytest.raises(ConfigError, match="unknown backend 'gpu'; choose one of auto"):
        create_predictor(loaded, backend="gpu")
    with pytest.raises(ConfigError, match="backend 'auto' measures the backends on real inputs"):
        create_predictor(loaded, backend="auto")
    with pytest.raises(ConfigError, match=r"min_agreement must be a share in \[0, 1\]"):
        create_predictor(loaded, backend="auto", sample=["fine"], min_agreement=1.5)
    with pytest.raises(DataError, match="top-k must be between 1 and the number of classes"):
        build_backend(loaded, "torch").predict(["fine"], top_k=3)
