"""`neuroplast evaluate --errors / --robustness` and `explain --method rollout`, as a user runs
them, on tiny CNN and ViT models trained on scikit-learn's real 8x8 digits."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from neuroplast import Engine
from tests.conftest import Result, one_torch_thread, run_neuroplast

MODELS: dict[str, dict[str, Any]] = {
    "digits-cnn": {"architecture": "image_cnn", "channels": [8, 16], "dropout": 0.0},
    "digits-vit": {
        "architecture": "image_vit",
        "patch_size": 2,
        "width": 16,
        "depth": 1,
        "num_heads": 2,
        "dropout": 0.0,
    },
}


def _config(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "data": {"dataset": "digits", "seed": 2, "limit": 600, "augment": "standard"},
        "model": MODELS[name],
        "train": {"epochs": 1, "batch_size": 32, "seed": 1, "optimizer": {"lr": 0.01}},
    }


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vision-home")
    with one_torch_thread(), Engine(path) as engine:
        for name in MODELS:
            engine.train(_config(name))
    return path


@pytest.fixture()
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, home: Path
) -> Callable[..., Result]:
    monkeypatch.setenv("NEUROPLAST_HOME", str(home))
    return lambda *args: run_neuroplast(capsys, monkeypatch, *args)


def test_errors_and_robustness_of_the_cnn(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cnn.html"
    args = ("--errors", str(out), "--robustness", "--robustness-samples", "40", "--json")
    result = cli("evaluate", "digits-cnn", *args)
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    errors = doc["errors"]
    assert errors["heat_method"] == "gradcam"
    assert errors["accuracy"] == pytest.approx(doc["metrics"]["accuracy"], abs=1e-6)
    assert errors["mistakes"] == round((1 - errors["accuracy"]) * errors["samples"])
    assert sum(p[2] for p in errors["pairs"]) <= errors["mistakes"]
    page = out.read_text()
    assert "data:image/png;base64," in page and out.with_suffix(".png").stat().st_size > 0

    report = doc["robustness"]
    rows = {(r["attack"], r["strength"]): r["accuracy"] for r in report["rows"]}
    assert report["samples"] == 40
    assert rows[("fgsm", 0.0)] == rows[("pgd", 0.0)] == report["clean_accuracy"]
    assert rows[("pgd", 0.1)] <= rows[("fgsm", 0.1)] + 1 / 40
    assert rows[("pgd", 0.1)] < report["clean_accuracy"]
    for kind in ("png", "html", "json"):
        assert Path(report["files"][kind]).exists()
    assert json.loads(Path(report["files"]["json"]).read_text())["rows"] == report["rows"]

    with Engine(home) as engine:
        version = engine.registry.resolve("digits-cnn")
        stored = {e.split: e for e in engine.registry.evaluations(version)}
    assert stored["test/errors"].metrics["heat_method"] == "gradcam"
    assert Path(stored["test/errors"].metrics["files"]["html"]).exists()
    assert stored["test/robustness"].metrics["robustness"]["rows"] == report["rows"]


def test_the_vit_gets_rollout_maps_and_a_printed_robustness_table(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    out = tmp_path / "vit.html"
    args = ("--errors", str(out), "--robustness", "--robustness-samples", "5")
    result = cli("evaluate", "digits-vit", *args)
    assert result.code == 0, result.err
    assert "with rollout maps" in result.out and out.exists()
    assert "epsilons in [0, 1] pixel space" in result.out and "pgd" in result.out


def test_explain_rolls_out_the_vit_attention_and_refuses_the_cnn(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    from PIL import Image

    image = tmp_path / "seven.png"
    Image.new("L", (8, 8), 0).save(image)
    result = cli("explain", "digits-vit", str(image), "--method", "rollout")
    assert result.code == 0, result.err
    refused = cli("explain", "digits-cnn", str(image), "--method", "rollout")
    assert refused.code != 0 and "rollout" in refused.err


def test_analyses_need_an_image_model_on_its_own_split(cli: Callable[..., Result]) -> None:
    result = cli(
        "evaluate", "digits-cnn", "--robustness", "--split", "val", "--robustness-samples", "0"
    )
    assert result.code != 0 and "--robustness-samples" in result.err
