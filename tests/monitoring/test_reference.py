"""The reference: computed once, stored on the version as safetensors, verified by its
sha256 on every read; its pooled features are what the classifier head reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from neuroplast.engine import Engine
from neuroplast.errors import ArtifactError
from neuroplast.inference.registered import load_registered
from neuroplast.monitoring import (
    MAX_REFERENCE,
    FeatureExtractor,
    Reference,
    load_or_build_reference,
    reference_artifact,
)
from neuroplast.registry import sha256_file


@pytest.fixture()
def engine(trained_home: Path, tmp_path: Path) -> Engine:
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    return Engine(home)


def test_the_reference_is_stored_once_and_read_back_verified(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = engine.registry
    version, loaded = load_registered(registry, "rt-mon")
    extractor = FeatureExtractor(loaded)
    built = load_or_build_reference(registry, version, extractor, "train")
    stored = registry.resolve("rt-mon").artifacts[reference_artifact("train")]
    assert stored.sha256 == sha256_file(stored.path)
    assert 0 < built.size <= MAX_REFERENCE

    def no_second_write(*args: object) -> None:
        raise AssertionError("the reference was computed again")

    monkeypatch.setattr(registry, "add_artifact", no_second_write)
    again = load_or_build_reference(registry, registry.resolve("rt-mon"), extractor, "train")
    assert again.version == "rt-mon:1" and again.split == "train"
    assert again.label_names == ["rotten", "fresh"]
    np.testing.assert_array_equal(again.labels, built.labels)
    np.testing.assert_array_equal(again.inputs.features, built.inputs.features)
    np.testing.assert_array_equal(again.inputs.probabilities, built.inputs.probabilities)
    assert set(again.inputs.statistics) == {"length", "oov_rate"}

    data = bytearray(stored.path.read_bytes())
    data[-1] ^= 0xFF  # one flipped byte in the stored features
    stored.path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="does not match its recorded sha256"):
        load_or_build_reference(registry, registry.resolve("rt-mon"), extractor, "train")


def test_pooled_features_are_the_classifier_heads_input(engine: Engine) -> None:
    import torch

    _, loaded = load_registered(engine.registry, "rt-mon")
    texts = ["a warm, funny and wise film", "tedious, loud and utterly pointless", "meh"]
    got = FeatureExtractor(loaded).extract(texts)
    head = loaded.model.classifier
    logits = torch.from_numpy(got.features) @ head.weight.T + head.bias
    np.testing.assert_allclose(
        torch.softmax(logits, dim=1).detach().numpy(), got.probabilities, atol=1e-5
    )
    served = engine.predictor("rt-mon").predict_proba(texts)
    np.testing.assert_allclose(got.probabilities, served, atol=1e-5)
    np.testing.assert_array_equal(got.statistics["length"], [7, 6, 1])  # commas count


def test_a_reference_survives_its_bytes() -> None:
    from neuroplast.monitoring import InputFeatures

    reference = Reference(
        split="val",
        version="m:2",
        label_names=["a", "b"],
        labels=np.array([0, 1, 1]),
        inputs=InputFeatures(
            np.arange(6, dtype=np.float32).reshape(3, 2),
            np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]], dtype=np.float32),
            {"pixel_mean": np.array([1.0, 2.0, 3.0], dtype=np.float32)},
        ),
    )
    back = Reference.from_bytes(reference.to_bytes(), source="test")
    assert (back.split, back.version, back.label_names) == ("val", "m:2", ["a", "b"])
    np.testing.assert_array_equal(back.inputs.confidence, np.float32([0.9, 0.8, 0.6]))
    np.testing.assert_array_equal(back.inputs.predicted, [0, 1, 1])
    with pytest.raises(ArtifactError, match="is not a drift reference file"):
        Reference.from_bytes(b"not safetensors", source="x")


def test_the_heldout_reference_is_the_val_and_test_splits_together(engine: Engine) -> None:
    registry = engine.registry
    version, loaded = load_registered(registry, "rt-mon")
    extractor = FeatureExtractor(loaded)
    parts = [load_or_build_reference(registry, version, extractor, s) for s in ("val", "test")]
    both = load_or_build_reference(registry, version, extractor, "heldout")
    assert both.split == "heldout" and both.size == parts[0].size + parts[1].size
    # the same inputs (each split is sorted by row, so compare as sets of lengths + labels)
    joined = sorted(
        zip(
            np.concatenate([p.inputs.statistics["length"] for p in parts]).tolist(),
            np.concatenate([p.labels for p in parts]).tolist(),
            strict=True,
        )
    )
    assert (
        sorted(zip(both.inputs.statistics["length"].tolist(), both.labels.tolist(), strict=True))
        == joined
    )
    assert reference_artifact("heldout") in registry.resolve("rt-mon").artifacts
