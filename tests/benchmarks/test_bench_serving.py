"""The serving benchmark runs end to end in its quick mode (1-second wrk runs, one round)
against a real ``neuroplast serve`` and the naive baseline on a tiny text CNN, and reports
every figure. Timings are not asserted here. Needs Debian's ``wrk``: skipped without it,
except in CI (CI=true), where a missing load generator is an install step to fix."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import one_torch_thread, small_text_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_serving_quick(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        if os.environ.get("CI"):
            pytest.fail("wrk is not installed; add Debian's wrk to .ci/test-deps")
        pytest.skip("wrk (Debian's package) is not installed")
    from neuroplast.engine import Engine

    home = tmp_path / "home"
    with one_torch_thread(), Engine(home) as engine:
        engine.train(small_text_config(name="rt-cnn"))
        engine.promote("rt-cnn:1", "production")
    out = tmp_path / "serving.json"
    args = ["--quick", "--models", "text", "--no-litserve", "--home", str(home)]
    proc = subprocess.run(
        [sys.executable, "benchmarks/bench_serving.py", *args, "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())["models"]["rt-cnn"]
    assert result["version"] == "rt-cnn:1"
    assert set(result["servers"]) == {"neuroplast", "naive"}
    for server in result["servers"].values():
        assert server["rps"] > 0 and server["noop_rps"] > 0
        assert server["errors"] == 0
    assert result["batch32"]["predictions_per_s"] > 0 and result["batch32"]["bare_per_s"] > 0
    assert max(result["rss"]["neuroplast"].values()) > 0
    assert "neuroplast vs naive" in proc.stdout and "bare Predictor" in proc.stdout
