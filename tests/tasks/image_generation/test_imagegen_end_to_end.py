"""Train -> generate -> evaluate on a slice of real Fashion-MNIST, through the handler and
the CLI; and every bad input of ``generate`` and ``evaluate``, each one clear line."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from neuroplast import Engine
from neuroplast.config import parse_run_config, template_text
from neuroplast.errors import ConfigError, ModelNotFoundError
from neuroplast.inference.meta import ModelMeta
from neuroplast.models import create_model
from neuroplast.registry import Registry
from neuroplast.tasks import task_handler
from neuroplast.workflows.register import reserve_version
from tests.conftest import one_torch_thread

pytestmark = pytest.mark.debian_data("fashion_mnist")

FEATURES = "fmnist-cnn"


def _config(template: str, model: dict[str, Any]) -> Any:
    raw = yaml.safe_load(template_text(template))
    raw["data"] = {"dataset": "fashion_mnist", "limit": 400, "val_fraction": 0.1, "seed": 3}
    raw["model"] = model
    raw["image_generation"] = {"eval_samples": 40, "k": 3, "steps": 3}
    raw["train"].update(epochs=1, batch_size=64)
    raw["train"].pop("early_stopping", None)
    return parse_run_config(raw)


def _register_feature_cnn(registry: Registry) -> None:
    """A seeded, untrained image_cnn as the feature model (FID needs only its features)."""
    torch.manual_seed(0)
    arch = {"image_size": 28, "in_channels": 1, "channels": [4, 8], "num_classes": 10}
    model = create_model("image_cnn", arch).eval()
    meta = ModelMeta(
        architecture="image_cnn",
        modality="image",
        task="image_classification",
        arch_config=arch,
        label_names=[str(i) for i in range(10)],
        preprocessing={"mean": 0.5, "std": 0.5, "image_shape": [1, 28, 28]},
        name=FEATURES,
    )
    draft = reserve_version(registry, meta, config={})
    draft.save_model(model, None)
    draft.finalize(model, metrics={})


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One registry for the module: the feature CNN, a conditional VAE, an unconditional DDPM."""
    folder = tmp_path_factory.mktemp("imagegen") / "home"
    registry = Registry(folder)
    handler = task_handler("image_generation")
    with one_torch_thread():
        _register_feature_cnn(registry)
        vae = {"architecture": "image_vae", "conditional": True, "latent_dim": 4}
        vae.update(channels=[4, 8], hidden=16)
        handler.train(_config("image-vae", vae), registry)
        ddpm = {"architecture": "image_ddpm", "conditional": False, "width": 8, "timesteps": 20}
        handler.train(_config("image-ddpm", ddpm), registry)
    return folder


def test_training_registers_weights_and_a_test_loss(home: Path) -> None:
    registry = Registry(home)
    vae = registry.resolve("fm-vae")
    assert vae.task == "image_generation" and vae.architecture == "image_vae"
    assert {"weights.safetensors", "model.json", "task.json"} <= set(vae.artifacts)
    # an untrained Bernoulli decoder scores about 784 ln 2 = 543 nats; one epoch is below it
    assert 150 < vae.metrics["test_neg_elbo"] < 560
    assert 0.0 < registry.resolve("fm-ddpm").metrics["test_noise_mse"] < 1.5


def test_generate_writes_a_grid_and_an_array_and_is_seeded(
    home: Path, cli: Callable[..., Any], tmp_path: Path
) -> None:
    out = tmp_path / "vae.png"
    args = ["generate", "fm-vae", "--home", str(home), "--n", "12", "--class", "7", "-o"]
    first = cli(*args, str(out), "--json")
    assert first.code == 0, first.err
    document = json.loads(first.out)
    assert document["n"] == 12 and document["class"] == 7 and document["png"] == str(out)
    grid = Image.open(out)
    assert grid.size == (4 * 30 + 2, 3 * 30 + 2)  # 4 columns x 3 rows of 28 + 2 px
    array = np.load(tmp_path / "vae.npy")
    assert array.shape == (12, 1, 28, 28) and array.dtype == np.float32
    assert 0.0 <= array.min() < array.max() <= 1.0
    again = tmp_path / "again.png"
    assert cli(*args, str(again)).code == 0
    assert np.array_equal(np.load(tmp_path / "again.npy"), array)  # same seed, same images
    ddpm = ["generate", "fm-ddpm", "--home", str(home), "--n", "4", "--steps", "2"]
    assert cli(*ddpm, "-o", str(tmp_path / "d.png")).code == 0
    assert np.load(tmp_path / "d.npy").shape == (4, 1, 28, 28)
    with Engine(home) as engine:  # the Python API dispatches through the same handler
        done = engine.generate("fm-vae", n=12, class_index=7, output=str(tmp_path / "e.png"))
    assert done.document["n"] == 12 and np.array_equal(np.load(tmp_path / "e.npy"), array)


def test_evaluate_reports_fid_and_precision_recall_beside_floor_and_noise(home: Path) -> None:
    registry = Registry(home)
    with one_torch_thread():
        done = task_handler("image_generation").evaluate(registry, "fm-vae")
    doc = done.document
    assert doc["samples"] == 40 and doc["reference_images"] == 5000 and doc["k"] == 3
    assert "not Inception" in doc["feature_space"] and FEATURES in doc["feature_space"]
    floor, noise, model = doc["floor"], doc["noise"], doc["metrics"]
    assert floor["fid"] < model["fid"] and floor["fid"] < noise["fid"]
    assert floor["precision"] > 0.5 and noise["recall"] <= floor["recall"]
    assert any("test half (floor)" in line for line in done.lines)
    stored = registry.evaluations(registry.resolve("fm-vae"))[-1]
    assert stored.metrics["fid"] == model["fid"]


def test_bad_inputs_are_refused_with_one_clear_line(
    home: Path, cli: Callable[..., Any], tmp_path: Path
) -> None:
    h = ["--home", str(home)]
    cases = [
        (["fm-vae", "--n", "0"], "--n 0: generate between 1 and"),
        (["fm-vae", "--class", "12"], r"--class 12 is out of range: .*0\.\.9"),
        (["fm-ddpm", "--class", "3"], "is not class-conditional: drop --class"),
        (["fm-vae", "--steps", "5"], "--steps is for diffusion models"),
        ([FEATURES, "--n", "4"], "does not generate|needs a generative one"),
        (["fm-vae", "--prompt", "hi"], "--prompt, --max-tokens"),
        (["fm-vae", "-o", str(tmp_path / "x.jpg")], "give a .png path"),
    ]
    for args, message in cases:
        result = cli("generate", *args, *h)
        assert result.code != 0, args
        assert re.search(message, result.err), (args, result.err)
    handler = task_handler("image_generation")
    with pytest.raises(ModelNotFoundError, match="feature model 'nope' of FID is not in"):
        handler.evaluate(Registry(home), "fm-vae", feature_model="nope")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="Fashion-MNIST test set only"):
        handler.evaluate(Registry(home), "fm-vae", split="val")
    with pytest.raises(ConfigError, match="not an image generator; choose one of"):
        _config("image-vae", {"architecture": "image_cnn"})
