"""Several worker processes on one study: SQLite beside the registry, PostgreSQL in the
registry's own database (schema ``optuna``), and a worker killed with SIGKILL mid-trial."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from neuroplast.config import parse_run_config
from neuroplast.registry import Registry
from neuroplast.tuning import SearchSpace, TuneSettings, run_tune
from tests.registry._backends import fresh_postgres_database
from tests.tuning.conftest import PRUNABLE_SPACE, tune_config, write_yaml

RUNNING_WORKER = """
SELECT a.value_json FROM trials t JOIN trial_user_attributes a ON a.trial_id = t.trial_id
WHERE t.state = 'RUNNING' AND a.key = 'run'
"""


def _running_worker(db: Path) -> int | None:
    """The pid of a worker that is running a trial right now (None: none yet)."""
    if not db.exists():
        return None
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            row = conn.execute(RUNNING_WORKER).fetchone()
    except sqlite3.OperationalError:  # the tables are being created
        return None
    return None if row is None else int(json.loads(row[0])["worker_pid"])


@pytest.mark.slow
def test_a_killed_worker_fails_its_trial_and_the_study_goes_on(home: Path, tmp_path: Path) -> None:
    config = write_yaml(tmp_path / "cfg.yaml", tune_config("rt-kill", epochs=4))
    space = write_yaml(tmp_path / "space.yaml", PRUNABLE_SPACE)
    command = [sys.executable, "-m", "neuroplast", "tune", str(config), "--trials", "5"]
    command += ["--space", str(space)]
    command += ["--workers", "2", "--pruner", "none", "--no-register", "--json"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        deadline = time.monotonic() + 240
        victim = None
        while victim is None and time.monotonic() < deadline and proc.poll() is None:
            victim = _running_worker(home / "optuna.db")
            time.sleep(0.1)
        assert victim is not None, "no trial started"
        os.kill(victim, signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "locked" not in err
    doc = json.loads(out)
    assert doc["killed_workers"] == [victim]
    numbers = [t["number"] for t in doc["trials"]]
    assert numbers == list(range(len(numbers))) and len(numbers) >= 5  # none twice
    failed = [t for t in doc["trials"] if t["state"] == "fail"]
    assert len(failed) == 1 and doc["counts"]["complete"] == len(numbers) - 1
    with Registry(home) as registry:
        run = registry.get_run(failed[0]["run_id"])
        assert run.status == "failed" and f"worker process {victim} died (signal 9)" in (
            run.error or ""
        )


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    yield from fresh_postgres_database()


@pytest.mark.slow
def test_two_workers_share_a_study_in_the_registrys_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    from sqlalchemy import create_engine, inspect, text

    config = parse_run_config(tune_config("rt-pg", epochs=2))
    space = SearchSpace.model_validate(PRUNABLE_SPACE)
    settings = TuneSettings(study="rt-pg", trials=4, workers=2, register_best=False)
    with Registry(tmp_path / "home", url=postgres_url) as registry:
        outcome = run_tune(config, space, settings, registry)
    assert outcome.storage.endswith("(schema optuna)")
    numbers = [t["number"] for t in outcome.trials]
    assert sorted(numbers) == list(range(len(numbers))) and len(numbers) >= 4
    assert outcome.count("fail") == 0
    engine = create_engine(postgres_url)
    try:
        tables = inspect(engine)
        assert {"studies", "trials", "alembic_version"} <= set(tables.get_table_names("optuna"))
        assert "studies" not in tables.get_table_names("public")
        with engine.connect() as conn:  # the registry's own migrations are untouched
            assert conn.scalar(text("SELECT version_num FROM public.alembic_version")) == "0005"
    finally:
        engine.dispose()


def test_workers_share_out_the_cpus_unless_the_user_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from neuroplast.tuning.study import worker_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert worker_threads(2, cpus=2) == 1
    assert worker_threads(2, cpus=8) == 4
    assert worker_threads(3, cpus=8) == 2
    assert worker_threads(4, cpus=2) == 1  # never none
    assert worker_threads(1, cpus=8) is None  # one process: torch's own default
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert worker_threads(2, cpus=8) is None
