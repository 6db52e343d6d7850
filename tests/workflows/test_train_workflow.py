from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tests.conftest import small_image_config, small_text_config

from neuroplast.config import parse_run_config
from neuroplast.errors import TrainingError
from neuroplast.registry import Registry
from neuroplast.types import ModelMetrics
from neuroplast.workflows import evaluate_registered, load_registered, train_from_config


def test_interrupted_run_resumes_and_registers_one_version(tmp_path: Path) -> None:
    config = parse_run_config(small_text_config(epochs=3))
    registry = Registry(tmp_path)

    def crash_at_epoch_two(metrics: ModelMetrics) -> None:
        if metrics.epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_from_config(config, registry, on_epoch=crash_at_epoch_two)
    run = registry.latest_interrupted_run(config.model_dump(mode="json"))
    assert run is not None and run.status == "interrupted"
    assert registry.list_models() == []

    outcome = train_from_config(config, registry, resume=True)
    assert outcome.resumed_from_epoch == 1
    assert outcome.run.id == run.id and outcome.run.status == "completed"
    assert not run.checkpoint_dir.exists(), "a completed run keeps no resumable checkpoints"
    assert [m.epoch for m in registry.epoch_metrics(run.id)] == [1, 2, 3]
    assert outcome.version.ref == "rt-small:1"
    with pytest.raises(TrainingError, match="no interrupted run of this exact config"):
        train_from_config(config, registry, resume=True)
    registry.close()


def test_outcome_artifacts_and_evaluation_are_consistent(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    outcome = train_from_config(parse_run_config(small_image_config()), registry)
    version = outcome.version
    assert set(version.artifacts) >= {
        "weights.safetensors",
        "model.json",
        "plots/confusion_test.png",
    }
    assert "vocab.json" not in version.artifacts
    assert outcome.baseline is None  # the TF-IDF baseline is for text models
    assert outcome.test.accuracy > 0.8  # 3 epochs of an MLP on real 8x8 digits
    assert version.metrics["test_accuracy"] == pytest.approx(outcome.test.accuracy)

    again = evaluate_registered(registry, version.ref, split="test")
    assert again.result.accuracy == pytest.approx(outcome.test.accuracy)
    assert again.result.confusion_matrix == outcome.test.confusion_matrix
    train_split = evaluate_registered(registry, version.ref, split="train")
    assert train_split.result.samples > again.result.samples

    _, loaded = load_registered(registry, version.ref)
    weights = version.artifacts["weights.safetensors"].path
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    from neuroplast.errors import ArtifactError

    with pytest.raises(ArtifactError, match=r"weights\.safetensors does not match"):
        load_registered(registry, version.ref)
    assert loaded.meta.label_names == [str(i) for i in range(10)]
    registry.close()


def test_the_same_config_trains_to_the_same_weights(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    config = parse_run_config(small_text_config(epochs=2))
    weights = []
    for name in ("a", "b"):
        with Registry(tmp_path / name) as registry:
            version = train_from_config(config, registry).version
            weights.append(load_file(version.artifacts["weights.safetensors"].path))
    assert weights[0].keys() == weights[1].keys()
    for key, value in weights[0].items():
        assert torch.equal(value, weights[1][key]), key
