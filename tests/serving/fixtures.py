"""The serving tests' fixtures: a registry with tiny trained models and real ``neuroplast
serve`` processes on 127.0.0.1.

``serving_template`` trains, once per session, a text CNN twice (``rt-serve:1`` in
production, ``rt-serve:2`` a candidate) and, where Debian's Fashion-MNIST is installed, an
image CNN (``fm-serve:1`` in production). It is never served: each server runs on its own
copy (:func:`copy_home`), so that a test that promotes, splits traffic or kills its server
leaves the others alone. ``server`` is one shared server for the tests that only read;
``start_server`` starts more and stops them after the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import one_torch_thread, require_debian_data, small_text_config

if TYPE_CHECKING:  # httpx comes with the dev extra; this plugin loads in a bare install too
    import httpx

TEXT_MODEL = "rt-serve"
IMAGE_MODEL = "fm-serve"
#: The admin key every test server is started with (``Authorization: Bearer ...``).
API_KEY = "test-admin-key"
READY_TIMEOUT = 180.0  # s: the first start exports the ONNX graphs (torch) on a busy machine
STOP_TIMEOUT = 60.0


def image_config() -> dict[str, Any]:
    """A small image CNN on 1,000 real Fashion-MNIST images (skips where it is missing)."""
    require_debian_data("fashion_mnist")
    return {
        "name": IMAGE_MODEL,
        "data": {"dataset": "fashion_mnist", "limit": 1000, "seed": 1},
        "model": {"architecture": "image_cnn", "channels": [8, 16], "dropout": 0.1},
        "train": {"epochs": 1, "batch_size": 64, "seed": 5},
    }


def has_fashion_mnist() -> bool:
    from neuroplast.data import get_builtin_info

    return bool(get_builtin_info("fashion_mnist").installed())


@pytest.fixture(scope="session")
def serving_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding rt-serve:1 (production), rt-serve:2 (candidate) and, with
    Fashion-MNIST, fm-serve:1 (production). Copy it before serving it.

    Under pytest-xdist the first worker that needs it builds it in the run's shared
    temporary folder (a file lock); the others wait and use that one."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, beside each worker's own
    home, done = root / "serving-template", root / "serving-template.done"
    with FileLock(str(root / "serving-template.lock")):
        if not done.exists():
            shutil.rmtree(home, ignore_errors=True)  # a worker that failed half-way
            build_template(home)
            done.touch()
    return home


def build_template(home: Path) -> None:
    """Train and promote the serving tests' models into ``home``."""
    from neuroplast.engine import Engine

    with one_torch_thread(), Engine(home) as engine:
        engine.train(small_text_config(TEXT_MODEL))
        engine.train(small_text_config(TEXT_MODEL, seed=11, epochs=1))
        engine.promote(f"{TEXT_MODEL}:1", "production", reason="serving tests")
        refs = [f"{TEXT_MODEL}:1", f"{TEXT_MODEL}:2"]
        if has_fashion_mnist():
            engine.train(image_config())
            engine.promote(f"{IMAGE_MODEL}:1", "production", reason="serving tests")
            refs.append(f"{IMAGE_MODEL}:1")
        export_onnx(engine.registry, refs)


def export_onnx(registry: Any, refs: list[str]) -> None:
    """Store each version's ONNX graph now, so that no server of a copy exports it (with
    torch) on its first start; a no-op where the portable ONNX path is not installed."""
    try:
        from neuroplast.workflows.serving_artifacts import ensure_onnx
    except ImportError:
        return
    for ref in refs:
        ensure_onnx(registry, ref)


def copy_home(template: Path, dest: Path) -> Path:
    """A copy of the registry folder ``template`` at ``dest`` (a fresh, independent home)."""
    shutil.copytree(template, dest)
    return dest


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One ``python -m neuroplast serve`` subprocess on 127.0.0.1."""

    home: Path
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}"}

    def client(self, **kwargs: Any) -> httpx.Client:
        import httpx

        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 60.0), **kwargs)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"neuroplast serve exited with {self.process.returncode} before it was "
                    f"ready:\n{self.output()[-4000:]}"
                )
            try:
                if httpx.get(f"{self.url}/ready", timeout=5.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"neuroplast serve not ready after {timeout} s:\n{self.output()[-4000:]}"
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send ``sig`` and wait for the exit (killed after ``timeout`` s); the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """``neuroplast ARGS`` in a subprocess against this server's home."""
        return subprocess.run(
            [sys.executable, "-m", "neuroplast", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def launch(
    home: Path, *args: str, log_dir: Path, wait: bool = True, db_url: str | None = None
) -> Server:
    """Start ``neuroplast serve ARGS`` on ``home`` on a free port of 127.0.0.1 (its registry
    database: ``db_url``, else the home's SQLite file)."""
    port = free_port()
    env = {
        **os.environ,
        "NEUROPLAST_HOME": str(home),
        "NEUROPLAST_API_KEY": API_KEY,
        "NEUROPLAST_NO_PROGRESS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("NEUROPLAST_DB_URL", None)
    if db_url is not None:
        env["NEUROPLAST_DB_URL"] = db_url
    log = log_dir / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "neuroplast",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *args,
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(home=home, port=port, process=process, log=log, env=env)
    if wait:
        server.wait_ready()
    return server


@pytest.fixture(scope="session")
def server(serving_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the tests that only read and predict (its own copy of the home)."""
    root = tmp_path_factory.mktemp("served")
    running = launch(copy_home(serving_template, root / "home"), log_dir=root)
    yield running
    running.stop()


@pytest.fixture()
def start_server(serving_template: Path, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``start_server(*args, wait=True)``: a server on a fresh copy of the home, stopped after
    the test. Its home is ``server.home``."""
    started: list[Server] = []

    def start(*args: str, wait: bool = True) -> Server:
        root = tmp_path / f"server-{len(started)}"
        root.mkdir()
        running = launch(copy_home(serving_template, root / "home"), *args, log_dir=root, wait=wait)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
