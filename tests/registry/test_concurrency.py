"""Several processes write to one registry at once while another reads: nothing is lost,
version numbers have no gaps or duplicates, and nobody sees "database is locked"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.registry._backends import OpenRegistry
from tests.registry._concurrent_worker import REGISTRATIONS

WRITERS = 4
ROOT = Path(__file__).resolve().parents[2]


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.registry._concurrent_worker", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_four_writers_and_a_reader_lose_nothing(
    tmp_path: Path, db_url: str | None, open_registry: OpenRegistry
) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NEUROPLAST_NO_PROGRESS": "1"}
    env.pop("NEUROPLAST_DB_URL", None)
    if db_url is not None:
        env["NEUROPLAST_DB_URL"] = db_url
    stop = tmp_path / "stop"
    reader = _spawn(["reader", str(home), str(stop)], env)
    writers = [_spawn(["writer", str(i), str(home)], env) for i in range(WRITERS)]
    outputs = [w.communicate(timeout=600) for w in writers]
    stop.touch()
    reader_out, reader_err = reader.communicate(timeout=60)

    for proc, (out, err) in zip(writers, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
        assert "database is locked" not in out + err
    assert reader.returncode == 0, reader_err[-3000:]
    assert "database is locked" not in reader_out + reader_err
    assert json.loads(reader_out.strip().splitlines()[-1])["reads"] > 0

    registered = [
        ref for out, _ in outputs for ref in json.loads(out.splitlines()[-1])["registered"]
    ]
    assert len(registered) == len(set(registered)) == WRITERS * REGISTRATIONS
    with open_registry(home) as reg:
        counts = Counter(ref.split(":")[0] for ref in registered)
        for name, count in counts.items():
            versions = [v.version for v in reg.versions(name)]
            assert versions == list(range(1, count + 1)), name  # no gaps, no duplicates
            assert all(v.status == "ready" and v.run_id for v in reg.versions(name))
            runs = {v.run_id for v in reg.versions(name)}
            assert all(reg.get_run(r or 0).status == "completed" for r in runs)
        assert counts["shared"] == WRITERS * 2
        assert sorted(s.name for s in reg.list_models()) == sorted(counts)
