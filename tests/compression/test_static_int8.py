"""Static int8 versions store their calibrated int8 state and load it without the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neuroplast.engine import Engine
from neuroplast.errors import ArtifactError
from neuroplast.inference.qstate import STATIC_INT8, dump_quantized, load_quantized
from neuroplast.inference.quantize import static_int8
from neuroplast.models import create_model
from tests.conftest import small_image_config


@pytest.mark.parametrize(
    ("architecture", "options"),
    [("image_cnn", {"channels": [8, 16]}), ("image_mlp", {"hidden_dim": 32})],
)
def test_quantized_state_round_trips_bit_for_bit(architecture: str, options: dict) -> None:
    torch.manual_seed(0)
    config = {"num_classes": 10, "image_size": 8, **options}
    images = torch.randn(32, 1, 8, 8)
    quantized = static_int8(create_model(architecture, config).eval(), [images], modality="image")
    structure = static_int8(
        create_model(architecture, config).eval(), [torch.zeros(1, 1, 8, 8)], modality="image"
    )
    assert not torch.equal(structure(images), quantized(images))
    load_quantized(structure, dump_quantized(quantized), source="test")
    assert torch.equal(structure(images), quantized(images))


def test_load_quantized_rejects_other_bytes_and_other_architectures() -> None:
    config = {"num_classes": 10, "image_size": 8}
    small = static_int8(
        create_model("image_mlp", {**config, "hidden_dim": 16}).eval(),
        [torch.randn(4, 1, 8, 8)],
        modality="image",
    )
    other = static_int8(
        create_model("image_mlp", {**config, "hidden_dim": 32}).eval(),
        [torch.randn(4, 1, 8, 8)],
        modality="image",
    )
    with pytest.raises(ArtifactError, match="not a readable safetensors file"):
        load_quantized(small, b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage", source="x.safetensors")
    with pytest.raises(ArtifactError, match="does not hold the int8 state of this architecture"):
        load_quantized(small, dump_quantized(other), source="x.safetensors")


def test_static_version_serves_its_stored_int8_state_without_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neuroplast.inference import registered as predictors
    from neuroplast.inference.inputs import model_data
    from neuroplast.inference.quantize import calibration_batches

    with Engine(tmp_path) as engine:
        engine.train(small_image_config())
        ref = engine.optimizer.quantize_model("digits-mlp:1", quantization_type="static")
        child = engine.registry.resolve(ref)
        stored = child.artifacts[STATIC_INT8]
        table = child.metrics["compression_table"]
        assert table[1]["technique"] == "static int8"
        assert table[1]["size_mb"] == pytest.approx(stored.size_bytes / 1e6, abs=0.01)

        # The same numbers as calibrating again on the recorded batches ...
        loaded = engine.model_manager.get_loaded(ref)
        data = model_data(loaded.meta, loaded.vocab)
        batches = calibration_batches(
            data, batches=int(loaded.meta.compression["calibration_batches"])
        )
        fresh = static_int8(loaded.model, batches, modality="image")

        # ... but loading needs no data: make the data unreachable.
        def no_data(*args: object, **kwargs: object) -> None:
            raise AssertionError("a static int8 version must load without its training data")

        monkeypatch.setattr(predictors, "model_data", no_data)
        predictor = engine.predictor(ref)
        assert "Quantized" in repr(predictor.model)
        x = torch.cat(batches[:2])
        assert torch.equal(predictor.model(x), fresh(x))
        raw = np.random.default_rng(0).integers(0, 256, size=(5, 1, 8, 8), dtype=np.uint8)
        assert len(engine.predict(ref, raw)) == 5

        # A damaged int8 file is refused by its hash, not loaded.
        stored.path.write_bytes(stored.path.read_bytes()[:-8] + b"\x00" * 8)
    with Engine(tmp_path) as engine, pytest.raises(ArtifactError, match="sha256"):
        engine.predictor(ref)


def test_a_static_version_without_the_int8_file_is_calibrated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Versions registered before ``model.int8.safetensors`` existed load as before."""
    from neuroplast.inference import registered as predictors

    with Engine(tmp_path) as engine:
        engine.train(small_image_config())
        ref = engine.optimizer.quantize_model("digits-mlp:1", quantization_type="static")
        stored = engine.predictor(ref)
        real = predictors._artifact_bytes
        monkeypatch.setattr(
            predictors,
            "_artifact_bytes",
            lambda version, name: None if name == STATIC_INT8 else real(version, name),
        )
        again = engine.predictor(ref)
        x = torch.randn(16, 1, 8, 8)
        assert "Quantized" in repr(again.model)
        assert torch.equal(again.model(x), stored.model(x))
