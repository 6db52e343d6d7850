"""What ``neuroplast train`` prints when its output is not a terminal (piped, logged, CI)."""

from __future__ import annotations

import io
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from neuroplast.cli import _common
from tests.cli.conftest import write_config
from tests.conftest import Result, one_torch_thread, small_text_config

BATCH = re.compile(r"^training rt-small \[train\] (\d+)/(\d+)$")
EPOCH = re.compile(r"^epoch (\d+): train_loss [\d.]+  val_loss [\d.]+  val_acc [\d.]+  \(")


class FlushRecorder(io.StringIO):
    """A piped stdout that remembers what had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def _progress(lines: list[str]) -> list[tuple[str, int, int]]:
    """The epoch and batch lines in order: ("batch", done, total) / ("epoch", n, 0)."""
    found = []
    for line in lines:
        if m := BATCH.match(line):
            found.append(("batch", int(m[1]), int(m[2])))
        elif m := EPOCH.match(line):
            found.append(("epoch", int(m[1]), 0))
    return found


def _expected(total: int, every: int, epochs: int) -> list[tuple[str, int, int]]:
    marks = [d for d in range(1, total + 1) if d % every == 0 or d == total]
    return [
        item
        for epoch in range(1, epochs + 1)
        for item in [*(("batch", d, total) for d in marks), ("epoch", epoch, 0)]
    ]


def test_piped_training_flushes_each_epoch_line_and_a_batch_line_every_n(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from neuroplast.cli import main

    config = write_config(tmp_path / "run.yaml", small_text_config(epochs=2))
    monkeypatch.delenv("NEUROPLAST_NO_PROGRESS", raising=False)
    stdout = FlushRecorder()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "argv", ["neuroplast", "train", str(config), "--log-every", "4"])
    with one_torch_thread(), pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code in (0, None)
    lines = stdout.getvalue().splitlines()
    progress = _progress(lines)
    total = progress[0][2]
    assert total > 8  # 480 training rows in batches of 32
    assert progress == _expected(total, every=4, epochs=2)
    # each line reached the pipe when it was printed, not when the command ended
    flushed_last_lines = {snapshot.splitlines()[-1] for snapshot in stdout.flushed if snapshot}
    for line in lines:
        if BATCH.match(line) or EPOCH.match(line):
            assert line in flushed_last_lines, line


def test_by_default_a_batch_line_marks_each_quarter_of_an_epoch(
    cli: Callable[..., Result], home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "run.yaml", small_text_config(epochs=1))
    monkeypatch.delenv("NEUROPLAST_NO_PROGRESS", raising=False)
    with one_torch_thread():
        result = cli("train", str(config), "--set", "train.loggers=[csv]")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    progress = _progress(lines)
    total = progress[0][2]
    assert progress == _expected(total, every=math.ceil(total / 4), epochs=1)
    (where,) = [line.removeprefix("csv log: ") for line in lines if line.startswith("csv log: ")]
    assert Path(where).parent.parent.parent == home / "logs" / "rt-small"
    assert Path(where).read_text().count("\n") == 2  # the header and epoch 1


def test_no_progress_turns_the_batch_lines_off(
    cli: Callable[..., Result], home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "run.yaml", small_text_config(epochs=1))
    monkeypatch.setenv("NEUROPLAST_NO_PROGRESS", "1")
    with one_torch_thread():
        result = cli("train", str(config), "--log-every", "1")
    assert result.code == 0, result.err
    assert _progress(result.out.splitlines()) == [("epoch", 1, 0)]


def test_the_bar_shows_the_stage_label_verbatim(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100, color_system=None)
    monkeypatch.setattr(_common, "err_console", terminal)
    monkeypatch.delenv("NEUROPLAST_NO_PROGRESS", raising=False)
    with _common.progress_bar("training [x]", lines_every=0) as progress:
        progress("train", 3, 10)
    assert "training [x] [train]" in screen.getvalue()
