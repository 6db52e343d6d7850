"""The engine's features on task versions: ONNX against PyTorch and dynamic int8 judged by
the task's own metric (AUROC, MASE, perplexity), the refusals where a feature does not
apply, Engine.generate / evaluate / predict_task, and Python-API versions evaluated on the
held-out data they keep."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from sklearn.metrics import roc_auc_score
from torch.utils.data import TensorDataset

from neuroplast.config import parse_run_config, template_text
from neuroplast.engine import Engine
from neuroplast.errors import ConfigError
from neuroplast.tasks import TaskResult, task_handler
from neuroplast.tasks._store import load_task_version
from neuroplast.tasks.anomaly.data import _builtin_frame
from neuroplast.tasks.anomaly.models import build_model, score
from neuroplast.tasks.features import check_feature
from neuroplast.tasks.generation.corpus import fortune_documents
from tests.conftest import Result
from tests.tasks.generation.conftest import require_fortunes

Cli = Callable[..., Result]


Version = tuple[Path, TaskResult]


def _row(result: TaskResult, backend: str) -> dict:
    return next(r for r in result.document["rows"] if r["backend"] == backend)


def test_onnx_export_of_the_scorer_and_forecaster_agrees_with_torch(
    shuttle: Version, co2: Version, tmp_path: Path
) -> None:
    with Engine(shuttle[0]) as engine:
        before = len(engine.registry.versions("shuttle-ae"))
        anomaly = engine.export_onnx("shuttle-ae:1", int8=True, output=tmp_path / "ae")
        assert len(engine.registry.versions("shuttle-ae")) == before  # nothing registered
    with Engine(co2[0]) as engine:
        forecast = engine.export_onnx("co2-lstm:1")
    assert isinstance(anomaly, TaskResult) and isinstance(forecast, TaskResult)
    torch_row, onnx_row = _row(anomaly, "torch"), _row(anomaly, "onnx")
    assert onnx_row["max_rel_diff"] < 1e-4 and abs(onnx_row["auroc_change"]) < 1e-6
    assert 0.5 < torch_row["auroc"] <= 1.0
    assert abs(_row(anomaly, "onnx-int8")["auroc_change"]) < 0.05
    assert sorted(p.name for p in (tmp_path / "ae").iterdir()) == [
        "model.int8.onnx",
        "model.json",
        "model.onnx",
        "task.json",
    ]
    onnx_fc = _row(forecast, "onnx")
    assert onnx_fc["max_abs_diff"] < 1e-3 and abs(onnx_fc["mase_change"]) < 1e-4
    assert _row(forecast, "torch")["mase"] == pytest.approx(
        forecast.document["rows"][0]["metrics"]["mase"]
    )


def test_dynamic_int8_is_a_version_judged_by_the_task_metric(co2: Version) -> None:
    with Engine(co2[0]) as engine:
        result = engine.compress("co2-lstm:1", quantize="dynamic")
        assert isinstance(result, TaskResult)
        child = result.version
        assert child.parent_id == engine.registry.resolve("co2-lstm:1").id
        stored = load_task_version(engine.registry, child.ref, "forecasting")
        assert stored.meta.compression == {"quantization": "dynamic"}
        again = engine.evaluate(child.ref)  # the int8 model, quantized again on load
    int8 = _row(result, "torch-int8")
    assert isinstance(again, TaskResult)
    assert again.metrics["mase"] == pytest.approx(int8["mase"], abs=1e-6)
    assert abs(int8["mase_change"]) < 0.1 and int8["size_mb"] < _row(result, "torch")["size_mb"]


def test_an_int8_anomaly_version_gets_its_own_threshold(shuttle: Version) -> None:
    with Engine(shuttle[0]) as engine:
        result = engine.compress("shuttle-ae:1", quantize="dynamic")
        assert isinstance(result, TaskResult)
        child = load_task_version(engine.registry, result.version.ref, "anomaly_detection")
        parent = load_task_version(engine.registry, "shuttle-ae:1", "anomaly_detection")
        again = engine.evaluate(result.version.ref)
    assert child.state["threshold"]["rule"] == parent.state["threshold"]["rule"] == "f1"
    assert child.state["threshold"]["threshold"] != parent.state["threshold"]["threshold"]
    assert child.state["scaling"] == parent.state["scaling"]
    int8 = _row(result, "torch-int8")
    assert isinstance(again, TaskResult)
    assert again.metrics["f1"] == pytest.approx(int8["f1_at_threshold"], abs=1e-9)
    assert again.metrics["auroc"] == pytest.approx(int8["auroc"], abs=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("explain", "shuttle-ae:1", "1,2"), "explain covers classifiers; an anomaly score"),
        (("compress", "co2-lstm:1", "--prune", "0.5"), "take `--quantize dynamic`"),
        (("compress", "co2-lstm:1", "--quantize", "static"), "take `--quantize dynamic`"),
        (("export-onnx", "co2-lstm:1", "--if-better"), "no --if-better"),
    ],
)
def test_features_that_do_not_apply_are_refused_in_one_line(
    shuttle: Version, co2: Version, cli: Cli, args: tuple[str, ...], message: str
) -> None:
    home = shuttle[0] if args[1].startswith("shuttle") else co2[0]
    out = cli(*args, "--home", str(home))
    assert out.code == 2 and message in out.err


def test_continual_update_and_the_lstm_lm_export_are_refused(
    shuttle: Version, cli: Cli, tmp_path: Path
) -> None:
    rows = tmp_path / "new.csv"
    rows.write_text("f1,f2\n1,2\n")
    args = ("continual", "update", "shuttle-ae:1", "--data", str(rows))
    out = cli(*args, "--home", str(shuttle[0]))
    assert out.code == 2 and "re-train on the new normal rows" in out.err
    with Engine(shuttle[0]) as engine:
        version = dataclasses.replace(
            engine.registry.resolve("shuttle-ae:1"), task="generation", architecture="lstm"
        )
        with pytest.raises(ConfigError, match="no ONNX decoder step"):
            check_feature("export-onnx", version)
        with pytest.raises(ConfigError, match=r"\(anomaly_detection\): use Engine.predict_task"):
            engine.predict("shuttle-ae:1", ["x"])
        with pytest.raises(ConfigError, match="does not generate"):
            engine.generate("shuttle-ae:1", "A")


def test_engine_evaluate_and_predict_task_answer_task_versions(
    shuttle: Version, co2: Version
) -> None:
    with Engine(shuttle[0]) as engine:
        evaluated = engine.evaluate("shuttle-ae:1")
        with pytest.raises(ConfigError, match="evaluated on torch only"):
            engine.evaluate("shuttle-ae:1", backend="onnx")
    with Engine(co2[0]) as engine:
        forecast = engine.predict_task("co2-lstm:1", horizon=4)
    assert isinstance(evaluated, TaskResult)
    assert "isolation_forest" in evaluated.document["baselines"]
    assert evaluated.metrics["auroc"] == pytest.approx(shuttle[1].metrics["auroc"], abs=1e-12)
    values = [p["value"] for p in forecast.document["forecast"]]
    assert len(values) == 4 and all(300 < v < 420 for v in values)  # ppm of CO2


def test_python_api_versions_evaluate_on_the_data_they_keep(tmp_path: Path) -> None:
    frame = _builtin_frame("shuttle").sample(n=700, random_state=0)
    x = torch.tensor(frame.drop(columns="anomaly").to_numpy(), dtype=torch.float32)
    x = (x - x.mean(0)) / x.std(0)
    y = torch.tensor(frame["anomaly"].to_numpy())
    series = torch.sin(torch.arange(200, dtype=torch.float32) / 6)
    windows = torch.stack([series[i : i + 24] for i in range(170)]).unsqueeze(-1)
    targets = torch.stack([series[i + 24 : i + 30] for i in range(170)])
    with Engine(tmp_path / "home") as engine:
        ae = engine.create_and_train_model(
            "api-ae", "dense_autoencoder", "anomaly_detection",
            TensorDataset(x[:500], y[:500]), TensorDataset(x[500:], y[500:]),
            {"hidden_dims": [8], "latent_dim": 3}, num_epochs=1,
        )  # fmt: skip
        fc = engine.create_and_train_model(
            "api-fc", "lstm_forecaster", "forecasting",
            TensorDataset(windows[:140], targets[:140]),
            TensorDataset(windows[140:], targets[140:]),
            {"hidden_size": 8}, num_epochs=1,
        )  # fmt: skip
        anomaly, forecast = engine.evaluate(ae), engine.evaluate(fc)
        net = load_task_version(engine.registry, ae, "anomaly_detection").build(build_model)
    assert isinstance(anomaly, TaskResult) and isinstance(forecast, TaskResult)
    expected = roc_auc_score(y[500:].numpy(), score(net, x[500:]).numpy())
    assert anomaly.metrics["auroc"] == pytest.approx(expected, abs=1e-9)
    naive = np.repeat(windows[140:, -1:, 0].numpy(), 6, axis=1)
    assert forecast.document["baselines"]["naive"]["mae"] == pytest.approx(
        float(np.abs(naive - targets[140:].numpy()).mean()), rel=1e-6
    )


@pytest.fixture(scope="module")
def gpt_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny character GPT on 80 real fortunes (Debian's package)."""
    require_fortunes()
    path = tmp_path_factory.mktemp("gpt-home")
    text = path / "quotes.txt"
    text.write_text("\n\n".join(d.replace("\n\n", "\n") for d in fortune_documents()[:80]))
    raw = yaml.safe_load(template_text("textgen-gpt"))
    raw.update(name="quotes-gpt", data={"path": str(text)})
    raw["generation"] = {"tokenizer": "char", "context": 16, "ngram_order": 2}
    raw["model"] = {"architecture": "gpt", "d_model": 16, "n_layers": 1, "n_heads": 2}
    raw["train"].update(epochs=1, batch_size=16, accelerator="cpu")
    with Engine(path) as engine:
        task_handler("generation").train(parse_run_config(raw), engine.registry)
    return path


def test_engine_generate_the_gpt_step_in_onnx_and_its_int8_perplexity(gpt_home: Path) -> None:
    with Engine(gpt_home) as engine:
        first = engine.generate("quotes-gpt", "A friend", max_tokens=12, top_k=5, seed=3)
        again = engine.generate("quotes-gpt", "A friend", max_tokens=12, top_k=5, seed=3)
        _, pieces = task_handler("generation").stream(
            engine.registry, "quotes-gpt", prompt="A friend", max_tokens=12, top_k=5, seed=3
        )
        exported = engine.export_onnx("quotes-gpt:1")
        compressed = engine.compress("quotes-gpt:1", quantize="dynamic")
        with pytest.raises(ConfigError, match="not n"):
            engine.generate("quotes-gpt", "A", n=2)
    assert first.document["text"] == again.document["text"] == "".join(pieces)
    assert len(first.document["text"]) and first.document["prompt"] == "A friend"
    assert isinstance(exported, TaskResult) and isinstance(compressed, TaskResult)
    onnx = _row(exported, "onnx")
    assert onnx["max_abs_diff"] < 1e-4 and abs(onnx["perplexity_change"]) < 1e-3
    int8 = _row(compressed, "torch-int8")
    assert int8["perplexity"] > 1 and abs(int8["perplexity_change"]) / int8["perplexity"] < 0.1
