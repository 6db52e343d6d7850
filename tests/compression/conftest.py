"""The compression tests' fixtures: a trained model and the CLI runner (one torch thread per
test comes from ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result, one_torch_thread, run_neuroplast, small_text_config


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry holding rt-small:1, a text CNN trained on 600 real reviews (a few s)."""
    from neuroplast.engine import Engine

    home = tmp_path_factory.mktemp("compress-home")
    with one_torch_thread(), Engine(home) as engine:
        engine.train(small_text_config())
    return home


@pytest.fixture()
def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """``run_cli(*args)`` runs ``neuroplast ARGS`` in-process: (code, out, err)."""
    monkeypatch.setenv("COLUMNS", "200")
    return lambda *args: run_neuroplast(capsys, monkeypatch, *args)
