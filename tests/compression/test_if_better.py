"""Is a result better than its parent? Warnings, ``--if-better`` and ``--json`` for
``compress``, ``export`` and ``bench``.

Speeds are made deterministic by replacing the one measurement helper the table uses with
fixed figures (milliseconds per input; the throughput is 1000 / that); sizes and
accuracies are the real ones of a text CNN trained on 600 real reviews.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from neuroplast.compression.verdict import check_accuracy_drop, judge, noise_warning
from neuroplast.errors import ConfigError
from neuroplast.inference.timing import Timing
from neuroplast.registry import Registry
from tests.conftest import Result

Run = Callable[..., Result]

SHAPE = (0.9, 0.95, 1.0, 1.05, 1.1)  # quartiles at 0.95 and 1.05 of the median
ROW_KEYS = {
    "technique",
    "backend",
    "size_mb",
    "size_ratio",
    "latency_p50_ms",
    "latency_q1_ms",
    "latency_q3_ms",
    "latency_spread_ms",
    "latency_speedup",
    "throughput_per_s",
    "throughput_q1_per_s",
    "throughput_q3_per_s",
    "throughput_spread_per_s",
    "throughput_speedup",
    "batch_size",
    "repeats",
    "accuracy",
    "accuracy_change",
    "f1_macro",
    "f1_change",
    "samples",
    "status",
    "version",
    "reason",
}


def fixed_speeds(monkeypatch: pytest.MonkeyPatch, parent_ms: float, others_ms: float) -> list[int]:
    """The table's timings: ``parent_ms`` per input for the first variant, ``others_ms``
    for the rest, each over five repeats spread as :data:`SHAPE`. Returns the call log."""
    calls: list[int] = []

    def fake(fns: Sequence[Callable[[], object]], **_: Any) -> list[Timing]:
        calls.append(len(fns))
        figures = [parent_ms] + [others_ms] * (len(fns) - 1)
        return [Timing.from_samples([ms * s for s in SHAPE]) for ms in figures]

    monkeypatch.setattr("neuroplast.compression.table.time_calls", fake)
    return calls


def registry_state(home: Path) -> tuple[list[str], list[tuple[int, str]], list[str]]:
    """(ready refs, every version row with its status, drafts included, files under the
    model's artifact folder)."""
    from sqlalchemy import create_engine, text

    with Registry(home) as registry:
        refs = [v.ref for v in registry.versions("rt-small")]
        root = registry.artifacts_root / "rt-small"
        engine = create_engine(registry.url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT version, status FROM versions ORDER BY id")).all()
    engine.dispose()
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    return refs, [(int(v), str(s)) for v, s in rows], files


def parse(result: Result) -> dict[str, Any]:
    assert result.code == 0, result.err
    assert result.out.lstrip().startswith("{") and result.out.rstrip().endswith("}")
    document: dict[str, Any] = json.loads(result.out)  # the whole stdout is one document
    return document


# ---- the verdict, on numbers --------------------------------------------------------------
def _row(**changes: Any) -> dict[str, Any]:
    row = {
        "technique": "fp32 (parent)",
        "size_mb": 7.56,
        "latency_q1_ms": 1.0,
        "latency_q3_ms": 1.2,
        "latency_speedup": 1.0,
        "throughput_q1_per_s": 900.0,
        "throughput_q3_per_s": 1000.0,
        "throughput_speedup": 1.0,
        "batch_size": 64,
        "accuracy": 0.80,
    }
    return row | changes


def test_the_verdict_on_numbers() -> None:
    parent = _row()
    same = _row(
        technique="dynamic int8",
        latency_q1_ms=1.05,
        latency_q3_ms=1.25,
        latency_speedup=0.97,
        throughput_q1_per_s=800.0,
        throughput_q3_per_s=950.0,
        throughput_speedup=0.89,
    )
    verdict = judge(parent, same, max_accuracy_drop=0.01)
    assert not verdict.smaller and not verdict.faster and not verdict.qualifies
    assert verdict.reason == "not smaller, not faster"
    assert verdict.warnings("rt-cnn:2 (dynamic int8)", "rt-cnn:1") == [
        "rt-cnn:2 (dynamic int8) is not smaller (7.56 -> 7.56 MB) and not faster "
        "(0.97x at batch 1, 0.89x at batch 64) than rt-cnn:1"
    ]
    # 0.5 % fewer bytes is not smaller; 2 % is, and then the warning says "but"
    assert not judge(parent, _row(size_mb=7.53), max_accuracy_drop=0.01).smaller
    smaller = judge(parent, _row(size_mb=7.40), max_accuracy_drop=0.01)
    assert smaller.smaller and smaller.qualifies
    assert smaller.warnings("x", "p")[0].startswith("x is smaller (7.56 -> 7.40 MB) but not")
    # a lower median inside the spread is not faster; beyond it (at batch 64 only) it is
    inside = _row(latency_q1_ms=0.9, latency_q3_ms=1.05, latency_speedup=1.1)
    assert not judge(parent, inside, max_accuracy_drop=0.01).faster
    beyond = _row(throughput_q1_per_s=1001.0, throughput_q3_per_s=1100.0)
    verdict = judge(parent, beyond, max_accuracy_drop=0.01)
    assert verdict.faster and verdict.qualifies and verdict.warnings("x", "p") == []
    assert [s.faster for s in verdict.speeds] == [False, True]
    # faster, but 1.5 points of accuracy lost against a one-point bound
    lossy = _row(throughput_q1_per_s=1500.0, throughput_q3_per_s=1600.0, accuracy=0.785)
    verdict = judge(parent, lossy, max_accuracy_drop=0.01)
    assert verdict.faster and not verdict.qualifies
    assert verdict.reason == "accuracy -1.50 pt (bound -1.00 pt)"
    assert verdict.warnings("x", "p") == [
        "x loses 1.50 points of accuracy (0.8000 -> 0.7850), more than the 1.00-point bound, "
        "against p"
    ]
    assert judge(parent, lossy, max_accuracy_drop=0.02).qualifies
    assert judge(parent, _row(size_mb=1.0, accuracy=0.79), max_accuracy_drop=0.01).qualifies
    with pytest.raises(ConfigError, match="must be a share between 0 and 1"):
        check_accuracy_drop(1.5)


def test_noisy_timings_are_named() -> None:
    def timed(
        name: str, latency: tuple[float, float], throughput: tuple[float, float]
    ) -> dict[str, Any]:
        return {
            "technique": name,
            "latency_p50_ms": latency[0],
            "latency_spread_ms": latency[1],
            "throughput_per_s": throughput[0],
            "throughput_spread_per_s": throughput[1],
        }

    quiet = timed("onnx fp32", (0.25, 0.03), (2000.0, 400.0))  # ± 12 % and ± 20 %
    assert noise_warning([quiet]) is None
    busy = timed("fp32 (eager torch)", (4.6, 2.6), (481.0, 571.0))  # ± 57 %, ± 119 %
    assert noise_warning([busy, quiet]) == (
        "timings vary by more than ± 25% of their median between repeats for "
        "fp32 (eager torch) (± 119%): the machine was busy and the speed-ups are uncertain; "
        "measure again when it is quieter"
    )


# ---- compress ---------------------------------------------------------------------------
def test_compress_warns_when_a_result_is_not_smaller_nor_faster(
    trained_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neuroplast.compression.optimizer import ModelOptimizer

    calls = fixed_speeds(monkeypatch, 1.0, 1.0)
    with Registry(trained_home) as registry:
        outcome = ModelOptimizer(registry).compress("rt-small:1", quantize="dynamic")
    assert calls == [2, 2]  # batch 1, then batches; both variants interleaved in each
    parent, int8 = outcome.table
    assert int8["latency_speedup"] == 1.0 and int8["throughput_speedup"] == 1.0
    assert int8["latency_p50_ms"] == 1.0 and int8["latency_spread_ms"] == pytest.approx(0.05)
    assert int8["throughput_per_s"] == pytest.approx(1000.0)
    assert int8["size_mb"] > parent["size_mb"] * 0.99  # the embedding stays fp32
    version = outcome.versions[0].ref  # registered: if_better is off by default
    batch = parent["batch_size"]
    assert outcome.warnings == [
        f"{version} (dynamic int8) is not smaller ({parent['size_mb']:.2f} -> "
        f"{int8['size_mb']:.2f} MB) and not faster (1.00x at batch 1, 1.00x at batch "
        f"{batch}) than rt-small:1"
    ]
    assert [d.status for d in outcome.decisions] == ["parent", "registered"]


def test_compress_if_better_registers_nothing_for_a_result_that_is_not_better(
    trained_home: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_speeds(monkeypatch, 1.0, 1.0)
    before = registry_state(trained_home)
    home = ["--home", str(trained_home)]
    result = run_cli("compress", "rt-small:1", "--quantize", "dynamic", "--if-better", *home)
    assert result.code == 0, result.err
    assert registry_state(trained_home) == before  # no version, no draft, no file
    assert "not registered: not smaller, not faster" in result.out
    assert "warning: dynamic int8 (not registered) is not smaller (" in result.out
    assert "and not faster (1.00x at batch 1, 1.00x at batch" in result.out
    assert "nothing registered: no result is better than rt-small:1" in result.out
    assert "registered rt-small:" not in result.out

    document = parse(
        run_cli("compress", "rt-small:1", "--quantize", "dynamic", "--if-better", "--json", *home)
    )
    assert registry_state(trained_home) == before
    assert document["registered"] == []
    assert [r["status"] for r in document["rows"]] == ["parent", "not registered"]
    assert document["rows"][1]["version"] is None
    assert document["rows"][1]["reason"] == "not smaller, not faster"
    assert "is not smaller" in document["warnings"][0]


def test_compress_if_better_registers_a_faster_result_and_json_has_the_documented_shape(
    trained_home: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_speeds(monkeypatch, 2.0, 1.0)  # int8 twice as fast, beyond the spread
    refs, rows, _ = registry_state(trained_home)
    result = run_cli(
        "compress",
        "rt-small:1",
        "--quantize",
        "dynamic",
        "--if-better",
        "--max-accuracy-drop",
        "0.05",
        "--json",
        "--home",
        str(trained_home),
    )
    document = parse(result)
    assert set(document) == {
        "command",
        "parent",
        "if_better",
        "max_accuracy_drop",
        "rows",
        "registered",
        "warnings",
        "notes",
        "name_now_means",
    }
    assert document["command"] == "compress" and document["parent"] == "rt-small:1"
    assert document["if_better"] is True and document["max_accuracy_drop"] == 0.05
    assert all(set(row) == ROW_KEYS for row in document["rows"])
    parent, int8 = document["rows"]
    assert (parent["status"], parent["version"]) == ("parent", "rt-small:1")
    assert int8["status"] == "registered" and int8["reason"] is None
    # rt-small has no production version: the bare name moved, and the user is told
    assert document["name_now_means"] == int8["version"]
    assert f"note: `rt-small` now means {int8['version']}" in document["notes"][-1]
    assert "neuroplast models promote rt-small:" in document["notes"][-1]
    assert int8["latency_speedup"] == pytest.approx(2.0)
    assert int8["throughput_speedup"] == pytest.approx(2.0)
    assert int8["latency_q1_ms"] == pytest.approx(0.95)
    assert int8["latency_q3_ms"] == pytest.approx(1.05)
    assert parent["latency_q1_ms"] == pytest.approx(1.9)
    assert int8["throughput_per_s"] == pytest.approx(1000.0)
    assert abs(int8["accuracy_change"]) <= 0.05
    assert document["warnings"] == []
    new_refs, new_rows, _ = registry_state(trained_home)
    assert document["registered"] == [int8["version"]]
    assert new_refs == [*refs, int8["version"]]
    assert len(new_rows) == len(rows) + 1
    with Registry(trained_home) as registry:
        stored = registry.resolve(int8["version"]).metrics["compression_table"]
    assert stored[1]["latency_speedup"] == pytest.approx(2.0)


def test_compress_rejects_a_bad_accuracy_bound(trained_home: Path, run_cli: Run) -> None:
    result = run_cli(
        "compress", "rt-small:1", "--quantize", "dynamic", "--max-accuracy-drop", "2",
        "--home", str(trained_home),
    )  # fmt: skip
    assert result.code != 0 and "--max-accuracy-drop" in result.err


# ---- export -----------------------------------------------------------------------------
def test_export_if_better_writes_nothing_for_an_onnx_model_that_is_not_better(
    trained_home: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fixed_speeds(monkeypatch, 1.0, 1.0)
    before = registry_state(trained_home)
    serve = tmp_path / "serve"
    args = ["export", "rt-small:1", "--if-better", "-o", str(serve), "--home", str(trained_home)]
    result = run_cli(*args)
    assert result.code == 0, result.err
    assert registry_state(trained_home) == before and not serve.exists()
    assert "warning: onnx fp32 (not registered) is not smaller (" in result.out
    assert "nothing registered: no ONNX model is better than rt-small:1" in result.out

    document = parse(run_cli(*args, "--json"))
    assert registry_state(trained_home) == before and not serve.exists()
    assert set(document) == {
        "command",
        "parent",
        "version",
        "format",
        "int8",
        "if_better",
        "max_accuracy_drop",
        "files",
        "output",
        "rows",
        "warnings",
        "notes",
        "name_now_means",
    }
    assert document["command"] == "export" and document["version"] is None
    assert not any("now means" in note for note in document["notes"])  # nothing registered
    assert document["files"] == [] and document["output"] is None
    assert all(set(row) == ROW_KEYS for row in document["rows"])
    assert [r["status"] for r in document["rows"]] == ["parent", "not registered"]
    assert document["rows"][1]["reason"] == "not smaller, not faster"
    assert any("not written" in note for note in document["notes"])


def test_export_if_better_registers_a_faster_onnx_version(
    trained_home: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fixed_speeds(monkeypatch, 2.0, 1.0)  # both ONNX models twice as fast as eager torch
    refs, _, _ = registry_state(trained_home)
    serve = tmp_path / "serve"
    document = parse(
        run_cli(
            "export",
            "rt-small:1",
            "--int8",
            "--if-better",
            "--max-accuracy-drop",
            "0.05",
            "-o",
            str(serve),
            "--json",
            "--home",
            str(trained_home),
        )
    )
    _, fp32, int8 = document["rows"]
    assert document["version"] is not None and document["output"] == str(serve)
    assert document["files"] == ["model.int8.onnx", "model.onnx"]
    assert (fp32["status"], int8["status"]) == ("registered", "registered")
    assert fp32["version"] == int8["version"] == document["version"]
    assert fp32["latency_speedup"] == pytest.approx(2.0)
    assert registry_state(trained_home)[0] == [*refs, document["version"]]
    assert (serve / "model.int8.onnx").is_file() and (serve / "model.onnx").is_file()
    assert document["warnings"] == []


def test_export_if_better_needs_the_measurements(trained_home: Path, run_cli: Run) -> None:
    result = run_cli(
        "export", "rt-small:1", "--if-better", "--no-measure", "--home", str(trained_home)
    )
    assert result.code != 0 and "drop --no-measure" in result.err


# ---- bench --------------------------------------------------------------------------------
def test_bench_json_has_the_documented_shape(trained_home: Path, run_cli: Run) -> None:
    document = parse(
        run_cli(
            "bench",
            "rt-small:1",
            "--backend",
            "onnx",
            "--inputs",
            "64",
            "--repeats",
            "3",
            "--json",
            "--home",
            str(trained_home),
        )
    )
    assert set(document) == {
        "command",
        "model",
        "backend",
        "cpu",
        "inputs",
        "repeats",
        "torch_threads",
        "rows",
        "auto",
        "flops_per_sample",
        "matmul_gflops",
        "achieved_gflops",
        "achieved_fraction",
        "warnings",
    }
    assert document["command"] == "bench" and document["model"] == "rt-small:1"
    assert document["backend"] == "onnx" and document["repeats"] == 3
    assert document["auto"] is None  # a named backend: nothing chosen
    assert isinstance(document["cpu"], str) and document["cpu"]
    latency, throughput = document["rows"]
    assert (latency["unit"], latency["batch_size"]) == ("ms", 1)
    assert throughput["unit"] == "/s"
    for row in (latency, throughput):
        assert set(row) == {
            "measure",
            "batch_size",
            "unit",
            "eager",
            "predictor",
            "speedup",
            "faster",
        }
        for timing in (row["eager"], row["predictor"]):
            assert set(timing) == {"median", "q1", "q3", "spread", "repeats", "unit"}
            assert 0 < timing["q1"] <= timing["median"] <= timing["q3"]
            assert timing["spread"] == pytest.approx((timing["q3"] - timing["q1"]) / 2, abs=1e-6)
            assert timing["repeats"] == 3
    ratio = latency["eager"]["median"] / latency["predictor"]["median"]
    assert latency["speedup"] == pytest.approx(ratio, rel=1e-4)
    ratio = throughput["predictor"]["median"] / throughput["eager"]["median"]
    assert throughput["speedup"] == pytest.approx(ratio, rel=1e-4)
    assert document["flops_per_sample"] > 0 and document["matmul_gflops"] > 0
    assert document["achieved_gflops"] == pytest.approx(
        document["flops_per_sample"] * throughput["predictor"]["median"] / 1e9, rel=1e-4
    )
