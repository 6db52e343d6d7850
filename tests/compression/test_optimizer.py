"""Quantization, pruning and distillation through ``Engine.optimizer`` and ``compress``:
each registers a new version with its parent, technique and measured table."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from neuroplast.compression.prune import magnitude_masks, prune_copy, sparsity
from neuroplast.engine import Engine
from neuroplast.errors import ConfigError
from neuroplast.workflows.report import load_registered

Run = Callable[..., tuple[int, str, str]]


def _check_lineage(engine: Engine, ref: str, parent_ref: str, technique: str) -> list[dict]:
    child = engine.registry.resolve(ref)
    parent = engine.registry.resolve(parent_ref)
    assert child.parent_id == parent.id
    assert child.config["compression"]["technique"] == technique
    assert child.config["compression"]["parent"] == parent.ref
    rows = json.loads(child.artifacts["compression.json"].path.read_text())["rows"]
    assert rows == child.metrics["compression_table"]
    assert rows[0]["technique"] == "fp32 (parent)"
    for row in rows:
        assert row["latency_p50_ms"] > 0 and row["throughput_per_s"] > 0
        assert 0.0 <= row["accuracy"] <= 1.0
    return rows


def test_dynamic_quantization_keeps_accuracy_and_reloads_as_int8(trained_home: Path) -> None:
    with Engine(trained_home) as engine:
        ref = engine.optimizer.quantize_model("rt-small:1", quantization_type="dynamic")
        child = engine.registry.resolve(ref)
        assert child.source == "compress"
        rows = _check_lineage(engine, ref, "rt-small:1", "dynamic int8")
        assert rows[1]["backend"] == "torch-int8"
        assert abs(rows[1]["accuracy_change"]) <= 0.02
        # The new version loads and predicts as int8 (Linear layers replaced).
        predictor = engine.predictor(ref)
        assert "Quantized" in repr(predictor.model) or "quantized" in repr(predictor.model)
        texts = ["a gorgeous, witty film", "a tedious mess of a movie"]
        int8 = predictor.predict_proba(texts)
        fp32 = engine.predictor("rt-small:1").predict_proba(texts)
        np.testing.assert_allclose(int8, fp32, atol=0.05)


def test_pruning_with_finetuning_keeps_pruned_weights_at_zero(trained_home: Path) -> None:
    with Engine(trained_home) as engine:
        ref = engine.optimizer.prune_model("rt-small:1", amount=0.5, finetune_epochs=1)
        rows = _check_lineage(engine, ref, "rt-small:1", "pruned 50% unstructured +1 ep")
        assert engine.registry.resolve(ref).metrics["sparsity"] == pytest.approx(0.5, abs=0.01)
        _, loaded = load_registered(engine.registry, ref)
        _, parent = load_registered(engine.registry, "rt-small:1")
        weight = loaded.model.convs[0].weight
        assert 0.49 < float((weight == 0).float().mean()) < 0.51
        assert not torch.equal(weight, parent.model.convs[0].weight)
        assert rows[1]["samples"] == rows[0]["samples"]


def test_structured_masks_drop_whole_channels() -> None:
    conv = torch.nn.Sequential(torch.nn.Conv1d(4, 8, 3), torch.nn.Conv1d(8, 2, 1))
    masks = magnitude_masks(conv, 0.25, structured=True)
    kept_channels = masks["0.weight"].flatten(1).all(dim=1)
    assert int(kept_channels.sum()) == 6
    assert bool((masks["0.weight"].flatten(1).any(dim=1) == kept_channels).all())
    pruned, masks = prune_copy(conv, 0.5)
    assert sparsity(pruned, masks) == pytest.approx(0.5, abs=0.02)
    assert float((conv[0].weight == 0).float().mean()) == 0.0  # the original is untouched


def test_distillation_registers_the_student_and_compares_it_with_training_alone(
    trained_home: Path,
) -> None:
    with Engine(trained_home) as engine:
        ref = engine.optimizer.distill(
            "rt-small:1",
            "rt-small:1",
            student_config={"architecture": "cnn", "embedding_dim": 16, "num_filters": 8},
            epochs=1,
            temperature=2.5,
            alpha=0.4,
        )
        child = engine.registry.resolve(ref)
        assert child.source == "distill"
        rows = _check_lineage(engine, ref, "rt-small:1", "distilled student (cnn)")
        assert [r["technique"] for r in rows[1:]] == [
            "student alone (hard labels) (cnn)",
            "distilled student (cnn)",
        ]
        assert rows[1]["size_mb"] < rows[0]["size_mb"]
        assert child.config["compression"]["teacher"] == "rt-small:1"
        assert child.config["compression"]["temperature"] == 2.5
        assert child.config["compression"]["alpha"] == 0.4
        assert engine.predictor(ref).loaded.meta.arch_config["embedding_dim"] == 16


def test_compress_cli_and_its_bad_input(trained_home: Path, run_cli: Run) -> None:
    home = ["--home", str(trained_home)]
    code, out, err = run_cli("compress", "rt-small:1", "--quantize", "dynamic", *home)
    assert code == 0, err
    assert "dynamic int8" in out and "registered rt-small:" in out
    code, _, err = run_cli("compress", "rt-small:1", *home)
    assert code != 0 and "nothing to do" in err
    code, _, err = run_cli("compress", "rt-small:1", "--quantize", "float4", *home)
    assert code != 0 and "--quantize must be dynamic or static" in err
    code, _, err = run_cli("compress", "rt-small:1", "--quantize", "static", *home)
    assert code != 0 and "applies to the image CNN / MLP paths" in err
    code, _, err = run_cli("compress", "rt-small:1", "--prune", "1.5", *home)
    assert code != 0 and "between 0 and 1" in err


def test_static_quantization_needs_an_image_model() -> None:
    from neuroplast.inference.quantize import static_int8
    from neuroplast.models import create_model

    model = create_model("cnn", {"vocab_size": 50, "num_classes": 2})
    with pytest.raises(ConfigError, match="static int8 applies to the CNN / MLP image paths"):
        static_int8(model, [torch.zeros(2, 5, dtype=torch.long)], modality="text")
