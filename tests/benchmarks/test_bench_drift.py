"""The drift benchmark runs end to end (Rotten Tomatoes only, a few small windows) and
reports a delay and a false-alarm count for each reference."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # trains a text CNN on 3,000 reviews
def test_bench_drift_smoke(tmp_path: Path) -> None:
    out = tmp_path / "drift.json"
    args = ["--quick", "--skip", "fmnist", "--window", "100", "--windows", "3", "--json", str(out)]
    proc = subprocess.run(
        [sys.executable, "benchmarks/bench_drift.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert {r["reference"].split()[0] for r in rows} == {"heldout", "val"}
    assert {r["projection"] for r in rows} == {"pooled"}
    for row in rows:
        assert row["windows_no_shift"] == 3 and 0 <= row["false_alarms"] <= 3
        assert row["delay"] is None or row["delay"] % 100 == 0
    assert "Drift detection" in proc.stdout
