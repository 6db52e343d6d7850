"""ensure_onnx: a version's ONNX graph and tokenizer.json, exported once and stored in the
registry; the stored files serve without neuroplast's tokenizer (Hugging Face tokenizers +
ONNX Runtime alone give the torch model's probabilities)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import one_torch_thread, small_image_config, small_text_config

from neuroplast.errors import ArtifactError, ConfigError, RegistryError
from neuroplast.inference.portable import onnx_predictor
from neuroplast.registry import Registry
from neuroplast.workflows.serving_artifacts import ensure_onnx

TEXTS = ["a gorgeous, witty film", "a tedious, boring mess", "Fine.", "CAFÉ ΟΔΟΣ 😀 don\u2019t"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding rt-small:1, a text CNN trained on 600 real reviews (a few s)."""
    from neuroplast.engine import Engine

    home = tmp_path_factory.mktemp("serving-artifacts")
    with one_torch_thread(), Engine(home) as engine:
        engine.train(small_text_config())
    return home


@pytest.fixture()
def home(trained: Path, tmp_path: Path) -> Path:
    """A copy of the trained home each test may change."""
    return Path(shutil.copytree(trained, tmp_path / "home"))


def test_ensure_onnx_stores_the_graph_and_tokenizer_once(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from neuroplast.inference import onnx_files
    from neuroplast.inference.predictor import Predictor
    from neuroplast.inference.registered import load_registered

    with one_torch_thread(), Registry(home) as registry:
        before = registry.resolve("rt-small:1")
        assert "model.onnx" not in before.artifacts
        version = ensure_onnx(registry, before)
        assert {"model.onnx", "tokenizer.json"} <= set(version.artifacts)
        assert "model.int8.onnx" not in version.artifacts
        assert registry.resolve("rt-small:1").artifacts == version.artifacts  # recorded
        stored = {n: a.sha256 for n, a in version.artifacts.items()}

        # a second call exports nothing
        def no_export(*args: object, **kwargs: object) -> bytes:
            raise AssertionError("ensure_onnx exported a graph the version already has")

        monkeypatch.setattr(onnx_files, "export_onnx_bytes", no_export)
        again = ensure_onnx(registry, "rt-small:1")
        assert {n: a.sha256 for n, a in again.artifacts.items()} == stored

        # int8 adds its graph, quantized from the stored one, which stays as it was
        with_int8 = ensure_onnx(registry, again, int8=True)
        assert with_int8.artifacts["model.int8.onnx"].size_bytes > 0
        assert with_int8.artifacts["model.onnx"].sha256 == stored["model.onnx"]

        # the stored files alone (no neuroplast tokenizer) give the torch model's answers
        _, loaded = load_registered(registry, "rt-small:1")
        tokenizer = Tokenizer.from_file(str(version.artifacts["tokenizer.json"].path))
        encoded = tokenizer.encode_batch(TEXTS)
        ids = np.asarray([e.ids for e in encoded], dtype=np.int64)
        assert ids.shape[1] <= int(loaded.meta.preprocessing["max_length"])
        session = ort.InferenceSession(
            str(version.artifacts["model.onnx"].path), providers=["CPUExecutionProvider"]
        )
        logits = session.run(None, {"input": ids})[0]
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        expected = Predictor(loaded).predict_proba(TEXTS)
        np.testing.assert_allclose(probs, expected, atol=1e-5)


def test_a_tampered_artifact_is_refused(home: Path) -> None:
    with one_torch_thread(), Registry(home) as registry:
        version = ensure_onnx(registry, "rt-small:1")
    graph = version.artifacts["model.onnx"].path
    graph.write_bytes(graph.read_bytes()[:-16] + b"\x00" * 16)
    with Registry(home) as registry:
        with pytest.raises(ArtifactError, match=r"model\.onnx does not match its recorded sha256"):
            onnx_predictor(registry, "rt-small:1")
        # ensure_onnx does not paper over it either: the graph is there, nothing is exported
        assert ensure_onnx(registry, "rt-small:1").artifacts == version.artifacts
    meta = version.artifacts["model.json"].path
    meta.write_text(meta.read_text().replace('"cnn"', '"lstm"'))
    with Registry(home) as registry, pytest.raises(ArtifactError, match=r"model\.json does not"):
        onnx_predictor(registry, "rt-small:1")


def test_a_version_without_its_graph_says_how_to_store_it(home: Path) -> None:
    with Registry(home) as registry, pytest.raises(ArtifactError, match="ensure_onnx"):
        onnx_predictor(registry, "rt-small:1")
    with Registry(home) as registry:
        ensure_onnx(registry, "rt-small:1")
        with pytest.raises(ArtifactError, match=r"no model\.int8\.onnx.*--int8"):
            onnx_predictor(registry, "rt-small:1", int8=True)


def test_a_read_only_registry_asks_to_export_where_it_is_writable(home: Path) -> None:
    with (
        Registry(home, read_only=True) as registry,
        pytest.raises(
            RegistryError,
            match=r"rt-small:1 has no model\.onnx, tokenizer\.json .* read-only .* export it "
            r"once where the registry is writable \(neuroplast export-onnx rt-small:1",
        ),
    ):
        ensure_onnx(registry, "rt-small:1")
    with one_torch_thread(), Registry(home) as registry:
        ensure_onnx(registry, "rt-small:1")
    with Registry(home, read_only=True) as registry:  # stored: read-only is enough now
        version = ensure_onnx(registry, "rt-small:1")
        assert onnx_predictor(registry, version).predict(TEXTS[:1])[0].label


def test_a_statically_quantized_version_is_refused(tmp_path: Path) -> None:
    from neuroplast.engine import Engine

    with one_torch_thread(), Engine(tmp_path) as engine:
        engine.train(small_image_config())
        ref = engine.optimizer.quantize_model("digits-mlp:1", quantization_type="static")
        with pytest.raises(ConfigError, match=r"statically quantized .* --backend torch"):
            ensure_onnx(engine.registry, ref)
        assert "model.onnx" not in engine.registry.resolve(ref).artifacts
        # its parent, an fp32 image model, gets a graph and no tokenizer
        parent = ensure_onnx(engine.registry, "digits-mlp:1")
        assert "model.onnx" in parent.artifacts and "tokenizer.json" not in parent.artifacts
