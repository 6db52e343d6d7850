from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture()
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """Run ``neuroplast ARGS`` in-process, as the console script does."""
    from neuroplast.cli import main

    def run(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["neuroplast", *args])
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as e:
            code = int(e.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def write_config(path: Path, config: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path
