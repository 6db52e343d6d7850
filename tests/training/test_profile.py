"""``neuroplast train --profile``: the top operators in the terminal, the trace on disk."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import yaml
from tests.conftest import Result, small_text_config


def test_profile_prints_the_top_operators_and_stores_a_valid_trace(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    config = small_text_config("rt-profiled", epochs=1, num_threads=1)
    config["data"]["limit"] = 300
    config["evaluation"] = {"baseline": False}
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(config))

    result = cli("train", str(cfg), "--profile")
    assert result.code == 0, result.err
    assert "profile of 3 training steps: top operators by time" in result.out
    assert "top operators by memory allocated" in result.out
    lines = [line for line in result.out.splitlines() if line.startswith("trace (open in")]
    trace = Path(lines[0].split(": ", 1)[1])
    assert trace.parent.parent == home / "logs" / "rt-profiled"  # <logs>/<name>/<run uid>/

    summary = json.loads((trace.parent / "summary.json").read_text())
    names = [row["name"] for row in summary["by_time"]]
    assert all(name in result.out for name in names[:3])  # the table names them
    # a text CNN's step: convolutions forward and backward among the top operators
    assert any(name.startswith("aten::") for name in names[:3])
    assert any("convolution" in name for name in names), names
    assert summary["by_memory"][0]["self_cpu_memory_bytes"] > 0
    assert summary["peak_allocated_bytes"] > 0

    events = json.loads(trace.read_text())["traceEvents"]
    steps = {e["name"] for e in events if e.get("name", "").startswith("ProfilerStep#")}
    assert len(steps) == summary["steps"] == 3
    assert any(e.get("cat") == "cpu_op" and e["name"].startswith("aten::") for e in events)
    assert any(e.get("name") == "[memory]" for e in events)
