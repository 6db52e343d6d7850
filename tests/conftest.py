"""Shared fixtures: a temporary neuroplast home, small real-data run configs, and the one
way a test reaches what a fresh machine may lack (Debian's data sets, a PostgreSQL server).

Tests that need Fashion-MNIST or WordNet load them through :func:`load_debian_data` (or
call :func:`require_debian_data` first, or carry ``@pytest.mark.debian_data(NAME)``); tests
that need PostgreSQL call :func:`require_postgres`. Outside CI a missing one skips the test,
and the run ends with one line counting those skips and naming the command that enables
them; under CI (``CI`` set) a missing one fails the test. ``tests/test_layout.py`` fails
when a test module reaches a Debian data set another way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest

#: The serving tests' session fixtures (a trained home, servers) for every directory that uses
#: them (serving, loop, ui): registered once here, so that the home is built once per run.
pytest_plugins = ["tests.serving.fixtures"]

os.environ.setdefault("NEUROPLAST_NO_PROGRESS", "1")

#: Under pytest-xdist (``make test`` runs ``-n logical``, one worker a CPU) every worker and the
#: subprocesses it starts (servers, ``neuroplast`` commands, DDP ranks) compute on one thread:
#: two workers of two threads each on two cores spin against each other.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if XDIST_WORKER:
    for _threads in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[_threads] = "1"

#: Built-in data sets that come from Debian packages (root and apt-get to install).
DEBIAN_DATA = {"fashion_mnist": "dataset-fashion-mnist", "wordnet_glosses": "wordnet-base"}
#: The one command that installs what the skipped tests need.
ENABLE_COMMAND = "sudo make test-deps"
PG_ENV = "NEUROPLAST_TEST_PG_URL"
_SKIP_TAG = "[optional]"  # marks the skip reasons the end-of-run summary counts


def _missing(what: str, detail: str) -> None:
    """Skip (outside CI) or fail (under CI) a test whose optional requirement is absent."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing ({detail}); CI must provide it: `make test-deps`")
    pytest.skip(f"{_SKIP_TAG} {what} is missing ({detail}); `{ENABLE_COMMAND}` enables it")


def require_debian_data(name: str) -> None:
    """Skip or fail (see :func:`_missing`) unless the Debian data set ``name`` is readable."""
    from neuroplast.data import get_builtin_info

    if name not in DEBIAN_DATA:
        raise ValueError(f"{name!r} is not a Debian data set; one of {sorted(DEBIAN_DATA)}")
    if not get_builtin_info(name).installed():
        _missing(f"Debian data set {name}", f"package {DEBIAN_DATA[name]}")


def load_debian_data(name: str, **kwargs: Any) -> Any:
    """``load_builtin(name, **kwargs)`` for a Debian data set, after :func:`require_debian_data`:
    the only place where the tests load one."""
    from neuroplast.data import load_builtin

    require_debian_data(name)
    return load_builtin(name, **kwargs)


def require_postgres() -> str:
    """The admin URL of the test PostgreSQL server (``make test`` starts one), or skip/fail."""
    url = os.environ.get(PG_ENV)
    if not url:
        _missing("a PostgreSQL server", f"{PG_ENV} is not set; `make test` starts one")
    return str(url)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "debian_data(name, ...): needs these Debian data sets (skips or fails)"
    )
    if XDIST_WORKER:
        import torch

        torch.set_num_threads(1)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist (not in a bare install)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup``: the groups of ``tests/_xdist.py`` (modules, fixed ports)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from tests._xdist import make_scheduler

    return make_scheduler(config, log)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("debian_data"):
        for name in marker.args:
            require_debian_data(name)


def pytest_unconfigure(config: pytest.Config) -> None:
    """After pytest's closing line: how many tests skipped for what this machine lacks."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    missing = [
        str(r.longrepr[-1]).split(_SKIP_TAG, 1)[1].split(" is missing", 1)[0].strip()
        for r in reporter.stats.get("skipped", [])
        if isinstance(r.longrepr, tuple) and _SKIP_TAG in str(r.longrepr[-1])
    ]
    if missing:
        reporter.write_line(
            f"{len(missing)} tests skipped: this machine lacks {', '.join(sorted(set(missing)))}; "
            f"`{ENABLE_COMMAND}` installs them (then `make test` runs every test)"
        )


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


#: The test folders whose tests run torch models: each of their tests gets one torch thread.
ONE_THREAD_FOLDERS = frozenset({"compression", "continual", "explain", "inference", "models"})
_TESTS = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def one_thread_per_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """:func:`one_torch_thread` around every test of :data:`ONE_THREAD_FOLDERS`."""
    path = Path(request.node.path).resolve()
    if (
        not path.is_relative_to(_TESTS)
        or path.relative_to(_TESTS).parts[0] not in ONE_THREAD_FOLDERS
    ):
        yield
        return
    with one_torch_thread():
        yield


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
