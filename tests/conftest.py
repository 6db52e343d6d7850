"""Shared fixtures: a temporary neuroplast home and small real-data run configs."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest

os.environ.setdefault("NEUROPLAST_NO_PROGRESS", "1")


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """torch on one thread inside the block: the test models are tiny, and on a busy 2-core
    machine two threads per process made the suite over 20x slower (threads spinning)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class Result(NamedTuple):
    """Exit code and captured output of one in-process ``neuroplast`` call."""

    code: int
    out: str
    err: str


def run_neuroplast(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> Result:
    """Run ``neuroplast ARGS`` in-process, as the console script does."""
    from neuroplast.cli import main

    monkeypatch.setattr(sys, "argv", ["neuroplast", *args])
    capsys.readouterr()
    code = 0
    try:
        main()
    except SystemExit as e:
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


@pytest.fixture()
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """``cli(*args)``: :func:`run_neuroplast` with this test's capture and patches."""
    return lambda *args: run_neuroplast(capsys, monkeypatch, *args)


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "np-home"
    monkeypatch.setenv("NEUROPLAST_HOME", str(path))
    monkeypatch.delenv("NEUROPLAST_DB_URL", raising=False)
    return path


def small_text_config(name: str = "rt-small", **train: Any) -> dict[str, Any]:
    """A text CNN on 600 real Rotten Tomatoes reviews: trains in a few seconds."""
    return {
        "name": name,
        "task": "sentiment_analysis",
        "data": {
            "dataset": "rotten_tomatoes",
            "limit": 600,
            "seed": 3,
            "max_length": 40,
            "vocab": {"max_size": 3000, "min_freq": 1},
        },
        "model": {"architecture": "cnn", "embedding_dim": 32, "num_filters": 16},
        "train": {
            "epochs": 2,
            "batch_size": 32,
            "seed": 7,
            "early_stopping": {"patience": 5},
            **train,
        },
    }


def small_image_config(name: str = "digits-mlp", **train: Any) -> dict[str, Any]:
    """An MLP on scikit-learn's 8x8 digits (1,797 real images)."""
    return {
        "name": name,
        "data": {"dataset": "digits", "seed": 1},
        "model": {"architecture": "image_mlp", "hidden_dim": 64, "num_layers": 1},
        "train": {"epochs": 3, "batch_size": 64, "seed": 5, **train},
    }
