"""``neuroplast export`` writes tokenizer.json beside model.onnx (and registers it): a
runtime with Hugging Face tokenizers and ONNX Runtime, and no neuroplast, serves the folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from neuroplast.inference.onnx_predictor import OnnxPredictor
from neuroplast.registry import Registry

Run = Callable[..., tuple[int, str, str]]

TEXTS = ["a gorgeous, witty film", "a tedious, boring mess", "fine", "Un film CHARMANT !"]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


def test_export_writes_and_registers_the_tokenizer(
    trained_home: Path, run_cli: Run, tmp_path: Path
) -> None:
    out = tmp_path / "serve"
    args = ("export", "rt-small:1", "--no-measure", "-o", str(out), "--home", str(trained_home))
    code, stdout, stderr = run_cli(*args)
    assert code == 0, stderr
    assert (out / "tokenizer.json").is_file()
    with Registry(trained_home) as registry:
        child = registry.resolve(stdout.split("registered ")[1].split(" ")[0])
        artifact = child.artifacts["tokenizer.json"]
        assert artifact.path.read_bytes() == (out / "tokenizer.json").read_bytes()

    tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    ids = np.asarray([e.ids for e in tokenizer.encode_batch(TEXTS)], dtype=np.int64)
    served = _softmax(session.run(None, {"input": ids})[0])
    expected = OnnxPredictor.from_dir(out).predict_proba(TEXTS)
    np.testing.assert_allclose(served, expected, atol=1e-5)


def test_export_refuses_a_graph_that_disagrees_with_torch(
    trained_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parity check export and ensure_onnx share: a graph whose logits differ from
    eager PyTorch is refused before anything is registered."""
    from neuroplast.compression import export
    from neuroplast.errors import ArtifactError
    from neuroplast.inference import onnx_files

    real = onnx_files.check_onnx_parity
    monkeypatch.setattr(
        onnx_files,
        "check_onnx_parity",
        lambda loaded, onnx, *, ref: real(loaded, onnx, ref=ref, tolerance=-1.0),
    )
    with Registry(trained_home) as registry:
        before = len(registry.versions("rt-small"))
        with pytest.raises(ArtifactError, match="disagrees with eager PyTorch"):
            export.export_version(registry, "rt-small:1", measure=False)
        assert len(registry.versions("rt-small")) == before
