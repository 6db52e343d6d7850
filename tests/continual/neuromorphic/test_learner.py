"""The neuromorphic learner end to end on a tiny real stream (split MNIST digits through
EfficientNet-Lite0 at 32 px): train task by task, register, load back verified, answer,
evaluate, plot; and ``continual compare`` with the ``neuromorphic`` strategy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from neuroplast.continual.neuromorphic.run_config import NeuroRunConfig, template_text
from neuroplast.registry import Registry
from tests.conftest import Result

pytestmark = pytest.mark.slow

TINY: dict[str, Any] = {
    "name": "neuro-tiny",
    "stream": {
        "source": "split_mnist",
        "tasks": 2,
        "train_per_class": 12,
        "test_per_class": 6,
    },
    "concept_encoder": {"encoder_type": "efficientnet-lite0", "image_size": 32},
    "prototype_manager": {"indexing_backend": "brute", "similarity_threshold": 0.9},
    "snn": {"input_offset": 0.5, "input_gain": 1.0, "lateral_inhibition": 0.2},
    "training": {"calibration_fraction": 0.25},
    "seeds": [0],
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """``neuro train`` on 2 tasks of real digits, registered in a fresh home: (home, the
    command's JSON)."""
    import json

    import yaml
    from typer.testing import CliRunner

    from neuroplast.cli import app

    folder = tmp_path_factory.mktemp("neuro")
    config = folder / "neuro.yaml"
    config.write_text(yaml.safe_dump(TINY))
    home = folder / "home"
    result = CliRunner().invoke(app, ["neuro", "train", str(config), "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    return home, json.loads(result.stdout)


def test_training_fills_the_matrix_and_registers_a_verified_version(
    trained: tuple[Path, dict[str, Any]],
) -> None:
    from neuroplast.continual.neuromorphic.persist import (
        learner_from_state,
        learner_meta,
        learner_tensors,
    )
    from neuroplast.continual.neuromorphic.workflow import LEARNER_FILE, STATE_FILE, load_learner

    home, out = trained
    matrix = out["metrics"]["accuracy_matrix"]
    assert len(matrix) == 2 and matrix[0][1] == 0.0  # task 2's digits unseen after task 1
    assert matrix[0][0] > 0.5 and matrix[1][1] > 0.25  # each task learnt (chance 1/2, 1/4)
    assert out["metrics"]["forgetting"] == pytest.approx(matrix[0][0] - matrix[1][0])
    with Registry(home) as registry:
        learner, version = load_learner(registry, "neuro-tiny")
    assert version.ref == out["version"]["ref"] and version.architecture == "neuromorphic"
    assert version.source == "continual" and {STATE_FILE, LEARNER_FILE} <= set(version.artifacts)
    assert learner.num_prototypes == out["metrics"]["prototypes"] > 0
    again = learner_from_state(learner_tensors(learner), learner_meta(learner))
    probe = torch.nn.functional.normalize(torch.randn(7, learner.memory.dim), dim=1)
    assert torch.equal(again.score_concepts(probe).labels, learner.score_concepts(probe).labels)
    assert torch.equal(again.attractor.weights, learner.attractor.weights)
    assert again.threshold == learner.threshold == out["metrics"]["threshold"]


def test_a_tampered_state_file_is_refused(trained: tuple[Path, Any], tmp_path: Path) -> None:
    import shutil

    from neuroplast.continual.neuromorphic.workflow import STATE_FILE, load_learner
    from neuroplast.errors import NeuroplastError

    home, _ = trained
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    with Registry(copy) as registry:
        path = Path(registry.resolve("neuro-tiny").artifacts[STATE_FILE].path)
        data = bytearray(path.read_bytes())
        data[-1] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(NeuroplastError, match=r"sha256|hash|changed"):
            load_learner(registry, "neuro-tiny")


def test_evaluate_infer_analyze_on_the_command_line(
    trained: tuple[Path, Any], tmp_path: Path, cli: Callable[..., Result]
) -> None:
    import json

    from PIL import Image

    home, trained_out = trained
    out = tmp_path / "results"
    result = cli("neuro", "evaluate", "neuro-tiny", "--out", str(out), "--home", str(home))
    assert result.code == 0, result.err
    doc = json.loads((out / "evaluation.json").read_text())
    recorded = trained_out["metrics"]["accuracy_matrix"]
    flat = [v for row in doc["accuracy_matrix"] for v in row]
    assert flat == pytest.approx([v for row in recorded for v in row])
    assert 0.0 <= doc["coverage"] <= 1.0 and doc["memory_bytes"] > 0
    assert doc["spikes_per_input"] >= 0 and doc["dense_macs_per_input"] > 0
    result = cli("neuro", "analyze", str(out))
    assert result.code == 0, result.err
    for name in ("accuracy_matrix", "prototypes", "risk_coverage"):
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    from neuroplast.data import load_builtin

    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(load_builtin("mnist_5k").images[0, 0]).save(folder / "digit.png")
    result = cli("neuro", "infer", "neuro-tiny", "--input-dir", str(folder), "--json",
                 "--home", str(home))  # fmt: skip
    assert result.code == 0, result.err
    (answer,) = json.loads(result.out)
    assert set(answer) >= {"input", "label", "confidence", "abstained", "evidence"}
    assert answer["evidence"], "the answer names the prototypes behind it"
    example = answer["evidence"][0]["examples"][0]
    assert example["input"].startswith("split_mnist task "), example


def test_continual_compare_measures_the_learner_beside_replay(
    tmp_path: Path, cli: Callable[..., Result], home: Path
) -> None:
    import json

    stream = tmp_path / "stream.yaml"
    stream.write_text(
        "stream: {source: split_mnist, tasks: 2, train_per_class: 12, test_per_class: 6}\n"
        "model: {architecture: image_mlp, hidden_dim: 16, num_layers: 1}\n"
        "train: {epochs: 1}\n"
    )
    result = cli("continual", "compare", str(stream), "--strategies", "replay,neuromorphic",
                 "--json")  # fmt: skip
    assert result.code == 0, result.err
    rows = {s["strategy"]: s for s in json.loads(result.out)["summaries"]}
    assert set(rows) == {"replay", "neuromorphic"}
    assert rows["neuromorphic"]["memory_bytes"] > 0 and 0.0 <= rows["neuromorphic"]["acc"] <= 1.0


def test_the_templates_are_valid_configs() -> None:
    import yaml

    for kind in ("text", "image", "basic"):
        NeuroRunConfig.model_validate(yaml.safe_load(template_text(kind)))


def test_answer_batch_serves_in_memory_images_with_evidence(
    trained: tuple[Path, Any],
) -> None:
    import numpy as np

    from neuroplast.continual.neuromorphic.infer import answer_batch, image_tensor_of, load_learner
    from neuroplast.data import load_builtin
    from neuroplast.errors import DataError

    home, _ = trained
    with Registry(home) as registry:
        learner, version = load_learner(registry, "neuro-tiny")
    digits = load_builtin("mnist_5k").images[:3, 0]
    answers = answer_batch(learner, version.modality, list(digits), names=["a", "b", "c"])
    assert [a["input"] for a in answers] == ["a", "b", "c"]
    prep = learner.preprocessing
    sims = learner.similarities(
        learner.embed(image_tensor_of(list(digits), prep["input_shape"], prep["input_range"]))
    )
    for a, row in zip(answers, sims, strict=True):
        assert a["label"] in learner.class_names and 0.0 < a["confidence"] <= 1.0
        assert sum(a["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        shown = [e["similarity"] for e in a["evidence"]]
        rows = [int(torch.nonzero(learner.memory.ids == e["prototype"])) for e in a["evidence"]]
        assert shown == pytest.approx([float(row[r]) for r in rows], abs=1e-5)
        assert max(shown) == pytest.approx(float(row.max()), abs=1e-5)  # the nearest is shown
    with pytest.raises(DataError, match="reads images"):
        answer_batch(learner, "image", ["a text"])
    with pytest.raises(DataError, match="uint8"):
        answer_batch(learner, "image", [np.zeros((4, 4), dtype=np.float32)])
    with pytest.raises(DataError, match="no inputs"):
        answer_batch(learner, "image", [])
