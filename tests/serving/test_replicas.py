"""Scale-out: two servers on two ports share one PostgreSQL registry, and a promote made
through that registry reaches both (workers keep no state of their own)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from neuroplast import Engine
from neuroplast.registry import Registry
from tests.conftest import one_torch_thread, small_text_config
from tests.registry._backends import fresh_postgres_database
from tests.serving.fixtures import TEXT_MODEL, Server, export_onnx, launch

pytestmark = pytest.mark.slow


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    yield from fresh_postgres_database()


def _version(server: Server) -> str:
    answer = httpx.post(
        f"{server.url}/v1/models/{TEXT_MODEL}/predict",
        json={"inputs": "a gorgeous, witty film"},
        timeout=30.0,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["version"])


def test_two_replicas_follow_one_postgresql_registry(postgres_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with one_torch_thread(), Engine(home, db_url=postgres_url) as engine:
        engine.train(small_text_config(TEXT_MODEL))
        engine.train(small_text_config(TEXT_MODEL, seed=11, epochs=1))
        engine.promote(f"{TEXT_MODEL}:1", "production", reason="replica test")
        export_onnx(engine.registry, [f"{TEXT_MODEL}:1", f"{TEXT_MODEL}:2"])
    replicas = [launch(home, TEXT_MODEL, log_dir=tmp_path, db_url=postgres_url) for _ in "ab"]
    try:
        assert {_version(r) for r in replicas} == {f"{TEXT_MODEL}:1"}
        with Registry(home, url=postgres_url) as registry:
            from neuroplast.registry.lifecycle import promote

            promote(registry, f"{TEXT_MODEL}:2", "production", reason="reaches both replicas")
        for replica in replicas:
            deadline = time.monotonic() + 60
            while _version(replica) != f"{TEXT_MODEL}:2":
                assert time.monotonic() < deadline, replica.output()[-3000:]
                time.sleep(0.2)
    finally:
        for replica in replicas:
            replica.stop()  # SIGTERM flushes each one's prediction log
    # nothing of SQLite: both wrote their predictions to the one PostgreSQL registry
    assert not (home / "registry.db").exists()
    with Registry(home, url=postgres_url) as registry:
        logged = registry.predictions(TEXT_MODEL, limit=10_000)
    assert {p.version for p in logged} == {1, 2}
