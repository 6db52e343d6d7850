"""``neuroplast train --json`` with its output piped: stdout is the JSON document alone, the
progress lines that a piped run prints go to stderr."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import write_config
from tests.conftest import Result, one_torch_thread, small_text_config

BATCH = re.compile(r"^training rt-small \[train\] (\d+)/(\d+)$")


def test_piped_train_json_prints_progress_lines_on_stderr_only(
    cli: Callable[..., Result], home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "run.yaml", small_text_config(epochs=1))
    monkeypatch.delenv("NEUROPLAST_NO_PROGRESS", raising=False)  # lines on, as when piped
    with one_torch_thread():
        result = cli("train", str(config), "--json", "--log-every", "4")
    assert result.code == 0, result.err
    document = json.loads(result.out)  # the whole of stdout is one JSON document
    assert document["version"]["ref"] == "rt-small:1"
    assert [m["epoch"] for m in document["history"]] == [1]
    batches = [BATCH.match(line) for line in result.err.splitlines()]
    marks = [int(m[1]) for m in batches if m]
    total = next(int(m[2]) for m in batches if m)
    assert total > 8  # 480 training rows in batches of 32
    assert marks == [d for d in range(1, total + 1) if d % 4 == 0 or d == total]
    assert "epoch 1: train_loss" in result.err
    assert "[train]" not in result.out and "epoch 1" not in result.out
