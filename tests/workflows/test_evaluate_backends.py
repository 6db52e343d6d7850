"""``evaluate`` scores the model as it is served: through the Predictor, on any backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import small_text_config

from neuroplast import Engine
from neuroplast.errors import NeuroplastError
from neuroplast.workflows import evaluate_registered


def test_evaluate_through_each_backend_matches_the_eager_model(home: Path) -> None:
    with Engine(home) as engine:
        engine.train(small_text_config(epochs=1))
        eager = evaluate_registered(engine.registry, "rt-small", split="test").result
        torch_backend = engine.evaluate("rt-small", backend="torch").result
        onnx_backend = engine.evaluate("rt-small", backend="onnx").result
        assert eager.samples == torch_backend.samples == onnx_backend.samples > 50
        assert torch_backend.accuracy == pytest.approx(eager.accuracy, abs=1e-9)
        assert torch_backend.loss == pytest.approx(eager.loss, abs=1e-5)
        assert onnx_backend.accuracy == pytest.approx(eager.accuracy, abs=2 / eager.samples)
        assert onnx_backend.loss == pytest.approx(eager.loss, abs=1e-4)
        assert len(engine.registry.evaluations(engine.registry.resolve("rt-small"))) == 4
        with pytest.raises(NeuroplastError, match="backend"):
            engine.evaluate("rt-small", backend="tpu")
