"""One torch thread per test process (tiny models on a shared 2-core machine)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry holding rt-small:1, a text CNN trained on 600 real reviews (a few s)."""
    from neuroplast.engine import Engine
    from tests.conftest import small_text_config

    home = tmp_path_factory.mktemp("compress-home")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with Engine(home) as engine:
            engine.train(small_text_config())
    finally:
        torch.set_num_threads(threads)
    return home


@pytest.fixture()
def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    """Run ``neuroplast ARGS`` in-process as the console script does: (code, out, err)."""
    from neuroplast.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["neuroplast", *args])
        monkeypatch.setenv("COLUMNS", "200")
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as e:
            code = int(e.code or 0)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
