"""The registry benchmark runs (a small size, one repeat) and reports every operation for
both the indexed database and the no-index baseline. Timings are not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_registry_smoke(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = ["--sizes", "1000,1500", "--repeats", "1", "--json", str(out)]
    proc = subprocess.run(
        [sys.executable, "benchmarks/bench_registry.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    assert set(results) == {"1000", "1500"}
    for size in results.values():
        assert set(size) == {
            "models list",
            "models versions",
            "models history",
            "resume lookup",
            "epoch metrics of a run",
        }
        assert all(v["indexed"] > 0 and v["no_index"] > 0 for v in size.values())
    assert "growth x1 runs" in proc.stdout
