"""`neuroplast explain` run as a user would, against a registry with real trained models."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from neuroplast.explain import ImageExplainer
from tests.conftest import Result, run_neuroplast
from tests.explain._data import split_images
from tests.explain.conftest import load


@pytest.fixture()
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, explain_home: Path
) -> Callable[..., Result]:
    """``cli(*args)`` runs ``neuroplast explain ARGS`` on the registry of trained models."""
    monkeypatch.setenv("NEUROPLAST_HOME", str(explain_home))
    monkeypatch.setenv("COLUMNS", "160")
    return lambda *args: run_neuroplast(capsys, monkeypatch, "explain", *args)


def test_explain_a_text_in_the_terminal(
    cli: Callable[..., Result], text_models: dict[str, str]
) -> None:
    result = cli(text_models["cnn"], "the plot is thin but the acting is superb")
    assert result.code == 0, result.err
    assert "method ig" in result.out and "completeness error" in result.out
    assert "top tokens:" in result.out
    assert "the plot is thin but the acting is superb" in result.out


def test_json_lines_carry_one_score_per_token(
    cli: Callable[..., Result], text_models: dict[str, str], tmp_path: Path
) -> None:
    texts = tmp_path / "texts.csv"
    texts.write_text('text\n"a gorgeous, witty film"\n"a tedious mess"\n')
    result = cli(text_models["lstm"], "--file", str(texts), "--method", "attention", "--json")
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert [r["text"] for r in rows] == ["a gorgeous, witty film", "a tedious mess"]
    for row in rows:
        assert len(row["tokens"]) == len(row["scores"])
        assert sum(row["scores"]) == pytest.approx(1.0, abs=1e-3)  # attention pooling weights


def test_html_report_and_faithfulness_table(
    cli: Callable[..., Result], text_models: dict[str, str], tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    result = cli(
        text_models["transformer"],
        "a gorgeous, witty film",
        "--method",
        "occlusion",
        "--faithfulness",
        "--n",
        "25",
        "--html",
        str(report),
    )
    assert result.code == 0, result.err
    assert "Deletion test" in result.out and "occlusion" in result.out
    assert "top-k drop" in result.out and " 25 " in result.out
    text = report.read_text()
    assert text.startswith("<!DOCTYPE html>") and "Deletion test" in text and "witty" in text


def test_gradcam_overlay_of_an_image_file(
    cli: Callable[..., Result], image_model: str, explain_home: Path, tmp_path: Path
) -> None:
    images, _ = split_images(load(explain_home, image_model), 1)
    source = tmp_path / "item.png"
    Image.fromarray(images[0, 0]).save(source)
    out = tmp_path / "overlay.png"
    result = cli(image_model, str(source), "--method", "gradcam", "--out", str(out))
    assert result.code == 0, result.err
    (expected,) = ImageExplainer(load(explain_home, image_model)).explain(images[:1])
    assert "gradcam heat maps" in result.out and expected.predicted_label in result.out
    assert f"{100 * expected.heat_on_object():.1f} %" in result.out
    with Image.open(out) as picture:
        assert picture.size == (2 * 28 * 8, 28 * 8)
    as_json = cli(image_model, str(source), "--json")
    row = json.loads(as_json.out)
    assert row["predicted"] == expected.predicted_label and row["method"] == "gradcam"
    assert row["heat_on_object"] == pytest.approx(expected.heat_on_object(), abs=1e-6)


def test_image_faithfulness(cli: Callable[..., Result], image_model: str) -> None:
    result = cli(image_model, "--faithfulness", "--n", "10")
    assert result.code == 0, result.err
    assert "mean on object" in result.out and "random weights" in result.out
    lines = [line.split() for line in result.out.splitlines() if line.strip()]
    rows = {words[0]: " ".join(words) for words in lines}
    assert set(rows) >= {"gradcam", "guided_gradcam", "ig", "saliency", "input_x_gradient"}
    assert "random weights score as high" in rows["ig"]
    only = cli(image_model, "--faithfulness", "--n", "10", "--method", "gradcam")
    assert only.code == 0 and "guided_gradcam" not in only.out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["cnn", ""], 3, "text 1 is empty"),
        (["cnn", "qzxv wrrpt"], 3, "only words the model never saw"),
        (["cnn", "a good film", "--target", "2"], 3, "target class 2 is out of range"),
        (["cnn", "a good film", "--method", "attention"], 2, "a cnn model has no attention"),
        (["cnn", "a good film", "--method", "gradcam"], 2, "unknown method 'gradcam'"),
        (["cnn", "a good film", "--out", "x.png"], 2, "--out writes image overlays"),
        (["cnn"], 3, "nothing to explain"),
        (["cnn", "--faithfulness", "--n", "0"], 2, "--n and --deleted must be at least 1"),
    ],
)
def test_bad_input(
    cli: Callable[..., Result],
    text_models: dict[str, str],
    args: list[str],
    code: int,
    message: str,
) -> None:
    result = cli(text_models[args[0]], *args[1:])
    assert result.code == code, (result.out, result.err)
    assert message in result.err and result.err.startswith("error: ")
    assert "Traceback" not in result.err
