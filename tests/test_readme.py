"""Every `neuroplast` command and every Python block of the README runs as shown."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def _cli_lines() -> list[str]:
    lines = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            command = line.split("  #")[0].strip()
            if command.startswith("neuroplast "):
                lines.append(command)
    return lines


def test_the_readme_shows_the_two_commands() -> None:
    text = README.read_text()
    assert "make demo" in text and "make test" in text
    assert "DEMO_OUTPUT" not in text and "BENCH_OUTPUT" not in text, "placeholders left"


@pytest.mark.slow
def test_readme_cli_commands_run(tmp_path: Path) -> None:
    lines = _cli_lines()
    assert len(lines) >= 7
    env = {**os.environ, "NEUROPLAST_HOME": str(tmp_path / "home")}
    bin_dir = Path(sys.executable).parent
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    for command in lines:
        done = subprocess.run(
            command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = _blocks("python")
    assert blocks
    for block in blocks:
        namespace: dict[str, object] = {"__name__": "__readme__"}
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["predictions"].shape == (10,)  # type: ignore[attr-defined]
