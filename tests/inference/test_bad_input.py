"""Bad input to the Predictor (every backend): a clear error or a documented truncation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from neuroplast.errors import DataError
from neuroplast.inference import list_backends, load_image_files
from neuroplast.inference.auto import build_backend
from tests.inference._helpers import image_model, text_model


@pytest.mark.parametrize("backend", list_backends(include_auto=False))
def test_every_backend_truncates_a_huge_text_and_rejects_an_empty_one(backend: str) -> None:
    predictor = build_backend(text_model("cnn"), backend)
    opening = "an absorbing , beautifully acted drama . " * 8
    probs = predictor.predict_proba([opening + "tedious " * 150_000, opening])
    np.testing.assert_allclose(probs[0], probs[1], atol=1e-6)
    with pytest.raises(DataError, match="input 1 is an empty text"):
        predictor.predict([""])


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_wrong_image_size_or_type(backend: str) -> None:
    predictor = build_backend(image_model(), backend)
    with pytest.raises(DataError, match=r"images must be uint8 \[N, 1, 28, 28\]"):
        predictor.predict(np.zeros((1, 3, 28, 28), dtype=np.uint8))
    with pytest.raises(DataError, match="this model takes images, not texts"):
        predictor.encode(["a text"])
    # A grey image without its channel axis is accepted as [N, 28, 28].
    assert len(predictor.predict(np.zeros((2, 28, 28), dtype=np.uint8))) == 2


def test_a_non_image_file_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "photo.png"
    bogus.write_text("this is not a PNG")
    with pytest.raises(DataError, match=r"cannot read image .*photo\.png.*PNG/JPEG"):
        load_image_files([bogus], channels=1, size=28)
    with pytest.raises(DataError, match=r"image .*missing\.png not found"):
        load_image_files([tmp_path / "missing.png"], channels=1, size=28)


def test_a_corrupt_onnx_artifact_of_a_registered_version(
    trained_home: Path, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    from neuroplast.registry import Registry

    home = ["--home", str(trained_home)]
    code, out, err = run_cli("export", "rt-small:1", "--no-measure", *home)
    assert code == 0, err
    ref = out.split("registered ")[1].split(" ")[0]
    code, out, _ = run_cli("predict", ref, "a witty film", "--backend", "onnx", "--json", *home)
    assert code == 0 and '"label"' in out
    with Registry(trained_home) as registry:
        onnx = registry.resolve(ref).artifacts["model.onnx"].path
    onnx.write_bytes(onnx.read_bytes()[:-10])
    code, _, err = run_cli("predict", ref, "a witty film", "--backend", "onnx", *home)
    assert code != 0 and "does not match its recorded sha256" in err
    onnx.unlink()
    code, _, err = run_cli("predict", ref, "a witty film", "--backend", "onnx", *home)
    assert code != 0 and "is missing" in err
