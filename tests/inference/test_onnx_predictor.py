"""The ONNX Runtime Predictor: torch-free, same answers as eager PyTorch, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuroplast.errors import ArtifactError, DataError
from neuroplast.inference.onnx_predictor import OnnxPredictor
from neuroplast.inference.predictor import Predictor
from tests.conftest import load_debian_data
from tests.inference._helpers import image_model, reviews, text_model, write_serving_dir

_CHILD = """
import json, sys
from neuroplast.inference.onnx_predictor import OnnxPredictor
predictor = OnnxPredictor.from_dir(sys.argv[1])
texts = json.loads(sys.argv[2])
probs = predictor.predict_proba(texts).tolist()
heavy = sorted(m for m in ("torch", "pandas", "lightning_fabric", "sqlalchemy") if m in sys.modules)
print(json.dumps({"probs": probs, "heavy": heavy, "backend": predictor.backend}))
"""


def test_onnx_predictor_imports_no_torch_and_matches_eager(tmp_path: Path) -> None:
    loaded = text_model("lstm")
    folder = write_serving_dir(loaded, tmp_path / "serve")
    texts = reviews()[0][600:640]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(folder), json.dumps(texts)],
        capture_output=True,
        text=True,
        check=True,
    )
    child = json.loads(done.stdout)
    assert child["heavy"] == [], f"the ONNX path imported {child['heavy']}"
    assert child["backend"] == "onnx"
    expected = Predictor(loaded).predict_proba(texts)
    np.testing.assert_allclose(np.asarray(child["probs"]), expected, atol=1e-5)
    assert len({round(p[0], 4) for p in child["probs"]}) > 10  # real, varied answers


def test_onnx_image_predictor_matches_eager(tmp_path: Path) -> None:
    loaded = image_model()
    predictor = OnnxPredictor.from_dir(write_serving_dir(loaded, tmp_path))
    data = load_debian_data("fashion_mnist", limit=300, seed=2)
    images = data.images[:50]
    np.testing.assert_allclose(
        predictor.predict_proba(images), Predictor(loaded).predict_proba(images), atol=1e-5
    )
    top = predictor.predict(images[:3], top_k=3)
    assert [len(p.top_k) for p in top] == [3, 3, 3]
    assert all(p.top_k[0][1] >= p.top_k[1][1] >= p.top_k[2][1] for p in top)


@pytest.fixture(scope="module")
def text_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_serving_dir(text_model("cnn"), tmp_path_factory.mktemp("serve"))


def test_empty_text_is_a_clear_error(text_folder: Path) -> None:
    predictor = OnnxPredictor.from_dir(text_folder)
    with pytest.raises(DataError, match="input 2 is an empty text"):
        predictor.predict(["a fine film", "   "])


def test_a_one_megabyte_text_is_truncated_to_max_length(text_folder: Path) -> None:
    predictor = OnnxPredictor.from_dir(text_folder)
    opening = "a gorgeous , witty and moving film . " * 10
    huge = opening + "dull " * 200_000
    assert len(huge) > 1_000_000
    same = predictor.predict_proba([huge, opening])
    # Only the first max_length (40) tokens count, and the opening holds 80 of them.
    np.testing.assert_allclose(same[0], same[1], atol=1e-6)


def test_wrong_image_size_is_a_clear_error(tmp_path: Path) -> None:
    predictor = OnnxPredictor.from_dir(write_serving_dir(image_model(), tmp_path))
    with pytest.raises(DataError, match=r"images must be uint8 \[N, 1, 28, 28\].*load_image_files"):
        predictor.predict(np.zeros((2, 1, 32, 32), dtype=np.uint8))
    with pytest.raises(DataError, match="must be uint8"):
        predictor.predict(np.zeros((2, 1, 28, 28), dtype=np.float32))


def test_missing_or_corrupt_onnx_file(tmp_path: Path, text_folder: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("model.json", "vocab.json"):
        (broken / name).write_bytes((text_folder / name).read_bytes())
    with pytest.raises(ArtifactError, match=r"model\.onnx is missing; export the model first"):
        OnnxPredictor.from_dir(broken)
    (broken / "model.onnx").write_bytes((text_folder / "model.onnx").read_bytes()[:500])
    with pytest.raises(ArtifactError, match="ONNX Runtime cannot load this model"):
        OnnxPredictor.from_dir(broken)
    good = (text_folder / "model.onnx").read_bytes()
    (broken / "model.onnx").write_bytes(good)
    with pytest.raises(ArtifactError, match="does not match its recorded sha256"):
        OnnxPredictor.from_dir(broken, hashes={"model.onnx": "0" * 64})


def test_missing_vocabulary_is_a_clear_error(tmp_path: Path, text_folder: Path) -> None:
    (tmp_path / "model.json").write_bytes((text_folder / "model.json").read_bytes())
    with pytest.raises(ArtifactError, match=r"vocab\.json is missing"):
        OnnxPredictor.from_dir(tmp_path)
