"""The backend registry: read without torch, and a backend registered in one place is built by
name, measured by ``auto``, listed in the helps and checked at the boundary."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from neuroplast.errors import ConfigError
from neuroplast.inference import (
    BackendSource,
    BasePredictor,
    PredictorBackend,
    backends_help,
    check_backend,
    create_predictor,
    get_backend,
    list_backends,
    register_backend,
)
from neuroplast.inference import _backends as registry
from neuroplast.inference.auto import build_backend
from tests.inference._helpers import reviews, text_model


def test_the_registry_loads_without_torch() -> None:
    code = (
        "import sys; from neuroplast.inference import list_backends, check_backend; "
        "assert list_backends() == ('auto', 'torch', 'torch-int8', 'onnx', 'onnx-int8'); "
        "check_backend('onnx-int8'); "
        "heavy = [m for m in ('torch', 'onnxruntime') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_what_each_backend_declares() -> None:
    assert list_backends(include_auto=False) == ("torch", "torch-int8", "onnx", "onnx-int8")
    assert {n: get_backend(n).onnx for n in list_backends(include_auto=False)} == {
        "torch": None,
        "torch-int8": None,
        "onnx": "fp32",
        "onnx-int8": "int8",
    }
    help_line = backends_help()
    for name in list_backends():
        assert f"{name}: " in help_line


def test_unknown_and_auto_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="unknown backend 'gpu'; choose one of auto, torch, "):
        check_backend("gpu")
    with pytest.raises(ConfigError, match="build_backend builds one backend; use create_pre"):
        get_backend("auto")
    with pytest.raises(ValueError, match="backend 'onnx' is already registered"):
        register_backend("onnx", help="again")(PredictorBackend)


@pytest.fixture()
def scaled_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A backend registered as a plugin would be: eager fp32 with its logits doubled (the same
    labels, other probabilities). Removed from the registry afterwards."""
    list_backends()  # the built-in ones first
    monkeypatch.setattr(registry, "_BACKENDS", dict(registry._BACKENDS))

    @register_backend("torch-x2", rank=5, help="eager PyTorch, logits doubled")
    class Doubled(PredictorBackend):
        def build(self, source: BackendSource) -> BasePredictor:
            predictor = build_backend(source.loaded, "torch", batch_size=source.batch_size)
            run = predictor.run_logits
            predictor.run_logits = lambda batch, threads=None: 2 * run(batch, threads=threads)  # type: ignore[method-assign]
            predictor.backend = "torch-x2"
            return predictor

    yield "torch-x2"


def test_a_registered_backend_is_built_measured_and_listed(scaled_backend: str) -> None:
    assert list_backends()[-1] == scaled_backend and check_backend(scaled_backend)
    assert f"{scaled_backend}: eager PyTorch, logits doubled" in backends_help()
    loaded = text_model("cnn")
    texts = reviews()[0][600:640]
    fp32 = build_backend(loaded, "torch").predict_proba(texts)
    doubled = create_predictor(loaded, backend=scaled_backend).predict_proba(texts)
    np.testing.assert_array_equal(doubled.argmax(1), fp32.argmax(1))
    assert np.abs(doubled - fp32).max() > 1e-3  # its own numbers, not the reference's
    auto = create_predictor(loaded, backend="auto", sample=texts, max_batch=8, repeats=1)
    assert auto.table is not None
    measured = {t.backend for t in auto.table.measured}
    assert measured == set(list_backends(include_auto=False))
    assert all(t.agreement == 1.0 for t in auto.table.measured if t.backend == scaled_backend)
