"""Anomaly detection end to end on tiny slices of the real built-in sets: train (normal data
only), evaluate beside IsolationForest / LOF, predict from a file, the registry round trip,
and the threshold and scaling that the version stores."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from neuroplast.engine import Engine
from neuroplast.tasks import TaskResult
from neuroplast.tasks.anomaly.config import BUILTIN_KINDS
from neuroplast.tasks.anomaly.data import BUILTIN, _builtin_frame
from tests.conftest import Result, require_debian_data
from tests.tasks.conftest import task_json, template_config, train_into

Cli = Callable[..., Result]


def test_training_uses_normal_rows_only_and_stores_scaling_and_threshold(
    shuttle: tuple[Path, TaskResult],
) -> None:
    _, result = shuttle
    state = task_json(result)
    frame = _builtin_frame("shuttle").sample(n=1500, random_state=13).reset_index(drop=True)
    order = np.random.default_rng(13).permutation(1500)
    train_rows = frame.iloc[order[round(1500 * 0.3) + round(1500 * 0.15) :]]
    normal = train_rows[train_rows["anomaly"] == 0].drop(columns="anomaly").to_numpy(float)
    np.testing.assert_allclose(state["scaling"]["offset"], normal.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(state["scaling"]["scale"], normal.std(axis=0), rtol=1e-9)
    assert state["threshold"]["rule"] == "f1" and state["threshold"]["threshold"] > 0
    assert state["columns"] == [f"f{i}" for i in range(1, 10)]
    assert result.metrics["auroc"] > 0.9  # 3 epochs on 1,500 rows already separate them
    assert result.version.task == "anomaly_detection" and result.version.modality == "tabular"


def test_evaluate_reports_the_model_beside_isolation_forest(
    shuttle: tuple[Path, TaskResult], cli: Cli
) -> None:
    home, result = shuttle
    out = cli("evaluate", result.version.ref, "--home", str(home), "--json")
    assert out.code == 0, out.err
    doc = json.loads(out.out)
    assert doc["metrics"]["auroc"] == pytest.approx(result.metrics["auroc"], abs=1e-9)
    forest = doc["baselines"]["isolation_forest"]
    assert 0.5 < forest["auroc"] <= 1.0 and forest["samples"] == doc["metrics"]["samples"]
    text = cli("evaluate", result.version.ref, "--home", str(home))
    assert "isolation_forest" in text.out and "auroc" in text.out


def test_predict_scores_each_row_against_the_stored_threshold(
    shuttle: tuple[Path, TaskResult], cli: Cli, tmp_path: Path
) -> None:
    home, result = shuttle
    rows = _builtin_frame("shuttle").head(40)
    path = tmp_path / "rows.csv"
    rows.drop(columns="anomaly").to_csv(path, index=False)
    out = cli("predict", result.version.ref, "--file", str(path), "--home", str(home), "--json")
    assert out.code == 0, out.err
    doc = json.loads(out.out)
    threshold = task_json(result)["threshold"]["threshold"]
    assert doc["threshold"] == threshold and len(doc["rows"]) == 40
    assert all(r["is_anomaly"] == (r["score"] > threshold) for r in doc["rows"])
    flagged = np.array([r["is_anomaly"] for r in doc["rows"]])
    truth = rows["anomaly"].to_numpy() == 1
    assert (flagged == truth).mean() >= 0.85
    onnx = cli(
        "predict",
        result.version.ref,
        "-f",
        str(path),
        "--backend",
        "onnx",
        "--home",
        str(home),
        "--json",
    )
    scores = [r["score"] for r in json.loads(onnx.out)["rows"]]
    np.testing.assert_allclose(scores, [r["score"] for r in doc["rows"]], rtol=1e-4, atol=1e-6)


def test_the_version_round_trips_through_the_registry(shuttle: tuple[Path, TaskResult]) -> None:
    home, result = shuttle
    with Engine(home) as engine:
        again = engine.registry.resolve(result.version.ref)
    assert again.uid == result.version.uid and {"task.json", "model.onnx"} <= set(again.artifacts)
    assert again.metrics["threshold"] == task_json(result)["threshold"]["threshold"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", r"is empty"),
        ("f1,f2,f3,f4,f5,f6,f7,f8,f9\n1,2,3,4,oops,6,7,8,9\n", r"column 'f5' holds text.*row 1"),
        ("f1,f2\n1,2\n", r"no column 'f3'"),
    ],
)
def test_bad_rows_are_clear_errors(
    shuttle: tuple[Path, TaskResult], cli: Cli, tmp_path: Path, content: str, message: str
) -> None:
    home, result = shuttle
    path = tmp_path / "bad.csv"
    path.write_text(content)
    out = cli("predict", result.version.ref, "--file", str(path), "--home", str(home))
    assert out.code != 0
    assert re.search(message, out.err), out.err


def test_series_windows_train_on_normal_windows_and_score_a_file(tmp_path: Path, cli: Cli) -> None:
    """The user's path: init --template anomaly-series, train, predict --file, evaluate."""
    home, config = tmp_path / "home", tmp_path / "s.yaml"
    assert cli("init", "--template", "anomaly-series", "-o", str(config)).code == 0
    sets = ["data.limit=2400", "train.epochs=2", "anomaly.baselines=[lof]"]
    trained = cli(
        "train", str(config), *(f"--set={s}" for s in sets), "--home", str(home), "--json"
    )
    assert trained.code == 0, trained.err
    doc = json.loads(trained.out)
    assert doc["test"]["anomalies"] > 0  # the held-out end holds the anomalous beats
    with Engine(home) as engine:
        state = json.loads(
            engine.registry.resolve("ecg-ae").artifacts["task.json"].path.read_text()
        )
    assert state["window"] == 256 and state["kind"] == "series" and state["columns"] == ["data"]
    frame = _builtin_frame("ecg_mitdb").tail(400)
    path = tmp_path / "ecg.csv"
    frame.to_csv(path, index=False)  # the column the model was trained on: data
    out = cli("predict", "ecg-ae", "--file", str(path), "--home", str(home), "--json")
    rows = json.loads(out.out)["rows"]
    assert [r["start"] for r in rows[:3]] == [0, 8, 16] and rows[-1]["end"] <= 400
    evaluated = cli("evaluate", "ecg-ae", "--home", str(home), "--json")
    assert "lof" in json.loads(evaluated.out)["baselines"]


def test_image_autoencoder_on_one_class(tmp_path: Path) -> None:
    require_debian_data("fashion_mnist")
    config = template_config(
        "anomaly-image",
        "data.limit=700",
        "train.epochs=1",
        "anomaly.normal_class=1",
        "anomaly.baselines=[]",
    )
    result = train_into(tmp_path / "home", config)
    state: dict[str, Any] = task_json(result)
    assert state["normal_class"] == 1 and state["input_shape"] == [1, 28, 28]
    assert 0 < result.metrics["anomalies"] < result.metrics["samples"]
    assert "auroc" in result.metrics


def test_the_builtin_tables_agree() -> None:
    """The light table the config check reads and the loader's table name the same sets."""
    assert {name: kind for name, (kind, _, _) in BUILTIN.items()} == BUILTIN_KINDS
