"""``neuroplast serve`` as a user runs it: bad invocations end with one line and exit 2
before anything starts; a real server prints what it serves, imports no torch for ONNX
models, and on SIGTERM answers every request it accepted and writes them to the log."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from neuroplast.serving.server import ServerOptions, is_loopback, served_models
from tests.conftest import Result
from tests.serving.fixtures import TEXT_MODEL, Server, copy_home, free_port

Cli = Callable[..., Result]


def one_error_line(result: Result) -> str:
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: "), result.err
    return lines[0]


# ---- refused before anything starts ---------------------------------------------------------
def test_no_model_with_a_production_version(cli: Cli, home: Path) -> None:
    result = cli("serve", "--port", str(free_port()))
    assert result.code == 2
    line = one_error_line(result)
    assert "no model" in line and "production version" in line and "promote" in line


def test_unknown_model_lists_the_models(
    cli: Cli, serving_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = copy_home(serving_template, tmp_path / "home")
    monkeypatch.setenv("NEUROPLAST_HOME", str(home))
    result = cli("serve", "rt-nope", "--port", str(free_port()))
    assert result.code == 2
    line = one_error_line(result)
    assert "'rt-nope'" in line and TEXT_MODEL in line


def test_bad_options(cli: Cli, home: Path) -> None:
    for args, words in (
        (("--backend", "tensorrt"), "unknown backend 'tensorrt'; choose one of"),
        (("--log-sample", "1.5"), "--log-sample"),
        (("--max-body-mb", "0"), "--max-body-mb"),
        (("--max-inputs", "0"), "max_inputs"),
        (("--max-queue", "8"), "max_queue (8) must be at least --max-batch (64)"),
    ):
        result = cli("serve", *args)
        assert result.code == 2, (args, result)
        assert words in one_error_line(result), (args, result.err)


def test_port_in_use(
    cli: Cli, serving_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEUROPLAST_HOME", str(copy_home(serving_template, tmp_path / "home")))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = cli("serve", "--port", str(port))
    assert result.code == 2
    assert f"port {port} on 127.0.0.1 is already in use" in one_error_line(result)


def test_exposed_host_warns(
    cli: Cli, serving_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Binding beyond loopback says so first (the port is taken, so nothing is exposed)."""
    monkeypatch.setenv("NEUROPLAST_HOME", str(copy_home(serving_template, tmp_path / "home")))
    assert not is_loopback("0.0.0.0") and is_loopback("127.0.0.2") and is_loopback("::1")
    with socket.create_server(("0.0.0.0", 0)) as taken:
        port = taken.getsockname()[1]
        result = cli("serve", "--host", "0.0.0.0", "--port", str(port))
    assert result.code == 2
    warning, error = result.err.strip().splitlines()
    assert warning.startswith("warning: listening on 0.0.0.0") and "exposes" in warning
    assert "already in use" in error


def test_served_models_and_worker_options(serving_template: Path, tmp_path: Path) -> None:
    from neuroplast.registry import Registry

    with Registry(copy_home(serving_template, tmp_path / "home")) as registry:
        assert TEXT_MODEL in served_models(registry)
        assert served_models(registry, [TEXT_MODEL, TEXT_MODEL]) == [TEXT_MODEL]
    options = ServerOptions(models=(TEXT_MODEL,), settings={"max_batch": 8}, port=9)
    assert ServerOptions.from_json(options.to_json()) == options


# ---- a real server --------------------------------------------------------------------------
def test_server_prints_what_it_serves_and_imports_no_torch(
    start_server: Callable[..., Server],
) -> None:
    """A server of its own: an explain request (other tests) rightly loads torch."""
    server = start_server(TEXT_MODEL)
    for _ in range(600):  # the lines come from the server's own poll of /ready
        if "ready on" in server.output():
            break
        time.sleep(0.1)
    output = server.output()
    assert f"serving {TEXT_MODEL}  {TEXT_MODEL}:1  backend onnx" in output, output
    assert f"ready on http://127.0.0.1:{server.port}" in output, output
    with server.client() as client:
        client.post(f"/v1/models/{TEXT_MODEL}/predict", json={"inputs": ["fine", "awful"]})
        health = client.get("/health").json()
    assert health["torch_loaded"] is False, server.output()[-3000:]
    maps = Path(f"/proc/{server.process.pid}/maps")
    if maps.exists():
        assert "libtorch" not in maps.read_text(), "the ONNX server mapped libtorch"


@pytest.mark.slow
def test_sigterm_answers_every_accepted_request(start_server: Callable[..., Server]) -> None:
    """Clients keep sending while SIGTERM arrives: every request the server accepted gets
    its 200 (later ones find the port closed), and every answer is in the prediction log."""
    from neuroplast.registry import Registry

    server = start_server("--max-wait-ms", "20")
    texts = [f"review number {i}: a witty, tender film" for i in range(20)]
    answered: list[httpx.Response] = []
    refused: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def client_loop() -> None:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            while True:
                try:
                    reply = client.post(f"/v1/models/{TEXT_MODEL}/predict", json={"inputs": texts})
                except httpx.TransportError as e:  # not accepted: shutting down
                    with lock:
                        refused.append(type(e).__name__)
                    return
                with lock:
                    answered.append(reply)
                    if len(answered) >= 12:
                        enough.set()

    threads = [threading.Thread(target=client_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    assert enough.wait(120), server.output()[-3000:]
    code = server.stop()
    for thread in threads:
        thread.join(120)
    assert code in (0, -15), server.output()[-3000:]
    assert len(refused) == len(threads)  # each client ended on the closed port, not an error
    bad = [(r.status_code, r.text[:200]) for r in answered if r.status_code != 200]
    assert bad == []
    ids = {r.json()["request_id"] for r in answered}
    with Registry(server.home, read_only=True) as registry:
        logged = {p.request_id for p in registry.predictions(TEXT_MODEL, limit=100_000)}
    assert ids <= logged, f"{len(ids - logged)} answered requests missing from the log"


@pytest.mark.slow
def test_two_workers(start_server: Callable[..., Server]) -> None:
    """Two processes share the port; each loads the models itself (a request that reaches
    one still loading is a 503 not_ready, and is retried as a client would)."""
    server = start_server(TEXT_MODEL, "--workers", "2")
    replies = []
    with server.client() as client:
        for _ in range(6):
            for _ in range(600):
                reply = client.post(f"/v1/models/{TEXT_MODEL}/predict", json={"inputs": "fine"})
                if reply.status_code != 503 or reply.json()["error"]["code"] != "not_ready":
                    break
                time.sleep(0.5)
            replies.append(reply)
    assert {r.status_code for r in replies} == {200}, [r.text for r in replies]
    children = [
        p for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == server.process.pid
    ]
    if Path("/proc").exists():
        assert len(children) >= 2, server.output()[-2000:]
    assert server.stop() in (0, -15), server.output()[-3000:]


def _parent(proc: Path) -> int | None:
    try:
        stat = (proc / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_worker_factory_needs_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from neuroplast.errors import ConfigError
    from neuroplast.serving.server import CONFIG_ENV, app_from_env

    monkeypatch.delenv(CONFIG_ENV, raising=False)
    with pytest.raises(ConfigError, match="started by `neuroplast serve`"):
        app_from_env()
    assert json.loads(ServerOptions().to_json())["host"] == "127.0.0.1"
    assert os.environ.get(CONFIG_ENV) is None


def test_a_model_that_cannot_load_ends_the_server(serving_template: Path, tmp_path: Path) -> None:
    """A damaged artifact: /ready says load_failed, the CLI prints what it was loading and
    one error line, exit 1."""
    from tests.serving.fixtures import launch

    home = copy_home(serving_template, tmp_path / "home")
    for path in (home / "artifacts" / TEXT_MODEL / "v1").iterdir():
        if path.suffix in (".onnx", ".safetensors"):
            path.write_bytes(path.read_bytes()[:100])
    server = launch(home, TEXT_MODEL, log_dir=tmp_path, wait=False)
    try:
        code = server.process.wait(180)
    finally:
        server.stop()
    lines = server.output().splitlines()
    assert code == 1, server.output()[-3000:]
    assert lines[0] == f"loading {TEXT_MODEL} (onnx) ...", lines
    assert len(lines) == 2 and lines[1].startswith("error: the models failed to load"), lines
    assert "does not match its recorded sha256" in lines[1]
