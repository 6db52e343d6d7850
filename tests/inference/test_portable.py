"""The portable serving path imports no torch (and its readers no SQLAlchemy), checked in
fresh interpreters: a serving process for an ONNX model never loads them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import one_torch_thread, small_text_config

TEXTS = ["a gorgeous, witty film", "a tedious, boring mess", "it is what it is"]

_IMPORTS = """
import sys
import neuroplast.inference.onnx_predictor
import neuroplast.registry.artifacts
import neuroplast.tokens.hf
print(sorted(m for m in ("torch", "sqlalchemy", "pandas") if m in sys.modules))
"""

_SERVE = """
import json, sys
from neuroplast.inference.portable import onnx_predictor
from neuroplast.registry import Registry

with Registry(sys.argv[1]) as registry:
    predictor = onnx_predictor(registry, "rt-small:1", threads=1)
    probs = predictor.predict_proba(json.loads(sys.argv[2]))
print(json.dumps({"probs": probs.tolist(), "torch": "torch" in sys.modules,
                  "backend": predictor.backend}))
"""


def _run(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_the_onnx_predictor_and_verified_reads_import_neither_torch_nor_sqlalchemy() -> None:
    assert _run(_IMPORTS) == "[]"


@pytest.mark.slow
def test_a_registry_version_is_served_without_torch(tmp_path: Path) -> None:
    """ensure_onnx (torch, here) stores the graph; a fresh process opens the registry,
    builds the predictor from the stored files and answers without importing torch."""
    from neuroplast.engine import Engine
    from neuroplast.inference.predictor import Predictor
    from neuroplast.inference.registered import load_registered
    from neuroplast.workflows.serving_artifacts import ensure_onnx

    with one_torch_thread(), Engine(tmp_path) as engine:
        engine.train(small_text_config())
        ensure_onnx(engine.registry, "rt-small:1")
        _, loaded = load_registered(engine.registry, "rt-small:1")
        expected = Predictor(loaded).predict_proba(TEXTS)
    answer = json.loads(_run(_SERVE, str(tmp_path), json.dumps(TEXTS)))
    assert answer["torch"] is False
    assert answer["backend"] == "onnx"
    np.testing.assert_allclose(np.asarray(answer["probs"]), expected, atol=1e-5)
