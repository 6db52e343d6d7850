"""``neuroplast export``: a new version with the ONNX files, lineage and the measured table."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from neuroplast.inference.onnx_predictor import OnnxPredictor
from neuroplast.registry import Registry
from neuroplast.workflows.report import load_registered

Run = Callable[..., tuple[int, str, str]]


def test_export_registers_an_onnx_version_with_lineage_and_table(
    trained_home: Path, run_cli: Run, tmp_path: Path
) -> None:
    out = tmp_path / "serve"
    code, stdout, stderr = run_cli(
        "export",
        "rt-small:1",
        "--format",
        "onnx",
        "--int8",
        "-o",
        str(out),
        "--home",
        str(trained_home),
    )
    assert code == 0, stderr
    assert "onnx int8" in stdout and "registered rt-small:" in stdout
    with Registry(trained_home) as registry:
        parent = registry.resolve("rt-small:1")
        child = registry.resolve(stdout.split("registered ")[1].split(" ")[0])
        assert child.source == "compress"
        assert child.config["compression"]["technique"] == "onnx-int8"
        assert child.config["compression"]["parent"] == "rt-small:1"
        assert {"model.onnx", "model.int8.onnx", "compression.json"} <= set(child.artifacts)
        table = json.loads(child.artifacts["compression.json"].path.read_text())["rows"]
        assert [r["technique"] for r in table] == ["fp32 (eager torch)", "onnx fp32", "onnx int8"]
        # ONNX fp32 gives the same answers as the parent: same accuracy to the example.
        assert table[1]["accuracy"] == table[0]["accuracy"]
        assert 0.5 < table[0]["accuracy"] <= 1.0
        assert abs(table[2]["accuracy_change"]) < 0.05
        assert table[2]["size_mb"] < table[1]["size_mb"]
        _, loaded = load_registered(registry, "rt-small:1")
        assert child.metrics["parent"] == parent.ref
    texts = ["a gorgeous, witty film", "a tedious, boring mess", "fine"]
    served = OnnxPredictor.from_dir(out).predict_proba(texts)
    from neuroplast.inference.predictor import Predictor

    np.testing.assert_allclose(served, Predictor(loaded).predict_proba(texts), atol=1e-5)


def test_export_of_an_unknown_model_or_format_fails_clearly(
    trained_home: Path, run_cli: Run
) -> None:
    code, _, err = run_cli("export", "nope", "--home", str(trained_home))
    assert code != 0 and "nope" in err
    code, _, err = run_cli(
        "export", "rt-small:1", "--format", "tflite", "--home", str(trained_home)
    )
    assert code != 0 and "unknown export format 'tflite'" in err


def test_bench_compares_eager_and_the_predictor(trained_home: Path, run_cli: Run) -> None:
    code, out, err = run_cli(
        "bench",
        "rt-small:1",
        "--backend",
        "onnx",
        "--inputs",
        "64",
        "--repeats",
        "1",
        "--home",
        str(trained_home),
    )
    assert code == 0, err
    assert "eager fp32 vs Predictor (onnx)" in out
    assert "batch-1 latency (ms/input)" in out and "MFLOP per sample" in out
    assert "median of 1 interleaved repeats" in out
    flops = float(out.split("forward ")[1].split(" MFLOP")[0])
    assert flops > 0.01  # the counter saw the convolutions
    code, _, err = run_cli("bench", "rt-small:1", "--backend", "tpu", "--home", str(trained_home))
    assert code != 0 and "unknown backend 'tpu'" in err
