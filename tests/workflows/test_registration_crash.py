"""`registry gc` next to a real training process, and a training killed during registration.

gc run while a training is in its epochs, and again while it is writing its version's
files, leaves both alone, says so, and the training registers. A process killed with
SIGKILL right after its last epoch (paused in the middle of registering by the child
script below) leaves a draft and a "running" run: as soon as its lease is seen to be dead
(at once on the same machine, where the holder's process is checked; elsewhere when the
lease expires, see tests/registry/test_leases.py), verify reports them, gc cleans them up,
and `train --resume` registers the run from its best checkpoint without training again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from tests.conftest import small_text_config
from tests.registry._backends import fresh_postgres_database

from neuroplast.config import load_run_config
from neuroplast.errors import TrainingError
from neuroplast.registry import Registry
from neuroplast.registry.artifacts import read_safetensors_verified
from neuroplast.registry.maintenance import verify
from neuroplast.training.checkpoint import load_checkpoint
from neuroplast.workflows import train_from_config

ROOT = Path(__file__).resolve().parents[2]

# The CLI's `train` with two pauses, each until the file `<pause>.go` appears in MARKERS:
# after logging epoch 1 (`epoch1`, in the middle of training) and once the draft's files
# are written, before the evaluation and finalize_version (`registering`).
_PAUSING_TRAIN = """
import sys, time
from pathlib import Path
import neuroplast.workflows.register as workflow
from neuroplast.config import load_run_config
from neuroplast.errors import TrainingError
from neuroplast.registry import Registry
config, home, markers = sys.argv[1:4]
def pause(name):
    Path(markers, name).write_text("paused")
    while not Path(markers, name + ".go").exists():
        time.sleep(0.05)
log_epoch = Registry.log_epoch
def log_then_pause(self, run_id, metrics):
    log_epoch(self, run_id, metrics)
    if metrics.epoch == 1:
        pause("epoch1")
Registry.log_epoch = log_then_pause
save_bundle = workflow.save_bundle
def save_then_pause(*args, **kwargs):
    files = save_bundle(*args, **kwargs)
    pause("registering")
    return files
workflow.save_bundle = save_then_pause
from neuroplast.cli import main
sys.argv = ["neuroplast", "train", config, "--home", home]
main()
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
    else:
        yield from fresh_postgres_database()


def _env(db_url: str | None, **extra: str) -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NEUROPLAST_NO_PROGRESS": "1", **extra}
    env.pop("NEUROPLAST_DB_URL", None)
    if db_url is not None:
        env["NEUROPLAST_DB_URL"] = db_url
    return env


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _neuroplast(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "neuroplast", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _config(tmp_path: Path, name: str, **train: Any) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(small_text_config(name, **train)))
    return path


def _wait_for(proc: subprocess.Popen[str], found: Any, what: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if found():
            return
        time.sleep(0.02)
    pytest.fail(f"the training never {what}: {proc.communicate()[1][-2000:]}")


def _gc(env: dict[str, str], home: Path) -> dict[str, Any]:
    done = _neuroplast(env, "registry", "gc", "--json", "--home", str(home))
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.mark.slow
def test_gc_during_training_and_during_registration_skips_them_and_says_so(
    tmp_path: Path, db_url: str | None
) -> None:
    home, env = tmp_path / "home", _env(db_url)
    config = _config(tmp_path, "busy", epochs=3)
    proc = _start(["-c", _PAUSING_TRAIN, str(config), str(home), str(tmp_path)], env)

    _wait_for(proc, (tmp_path / "epoch1").exists, "finished epoch 1")
    during_training = _gc(env, home)
    assert during_training["removed"] == [] and during_training["interrupted_runs"] == []
    ((run_item, run_reason),) = [(s["item"], s["reason"]) for s in during_training["skipped"]]
    assert run_item.startswith("run ") and run_reason.startswith("alive (last heartbeat")
    assert run_reason.endswith("its checkpoints are kept")
    (tmp_path / "epoch1.go").write_text("go")

    _wait_for(proc, (tmp_path / "registering").exists, "started registering")
    draft_files = sorted(p.name for p in (home / "artifacts" / "busy" / "v1").iterdir())
    during_registration = _gc(env, home)
    assert during_registration["removed"] == [] and during_registration["discarded_drafts"] == []
    skipped = {s["item"]: s["reason"] for s in during_registration["skipped"]}
    assert set(skipped) == {run_item, "busy:1"}
    assert skipped["busy:1"].startswith(f"registration in progress, {len(draft_files)} files")
    assert sorted(p.name for p in (home / "artifacts" / "busy" / "v1").iterdir()) == draft_files
    assert list(home.glob("runs/*/best.json")), "the checkpoints are still there"

    (tmp_path / "registering.go").write_text("go")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert "registered busy:1" in out
    with Registry(home, url=db_url) as reg:
        report = verify(reg)
        assert report.clean and report.checked >= 3 and report.orphans == []
        assert report.stale_drafts == report.stale_runs == report.in_progress == []
        assert reg.get_run(reg.resolve("busy:1").run_id or 0).status == "completed"


def _killed_during_registration(
    tmp_path: Path, env: dict[str, str], name: str
) -> tuple[Path, Path, dict[str, torch.Tensor]]:
    """Train ``name`` (3 epochs, no early stopping) and SIGKILL it in mid-registration;
    returns the home, the config and the best checkpoint's weights."""
    home = tmp_path / "home"
    config = _config(tmp_path, name, epochs=3, early_stopping={"enabled": False})
    (tmp_path / "epoch1.go").write_text("go")  # no pause in the middle of training
    proc = _start(["-c", _PAUSING_TRAIN, str(config), str(home), str(tmp_path)], env)
    _wait_for(proc, (tmp_path / "registering").exists, "started registering")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    (best,) = home.glob("runs/*/best.json")
    return home, config, load_checkpoint(best).model


def _registered_weights(home: Path, db_url: str | None, ref: str) -> dict[str, torch.Tensor]:
    with Registry(home, url=db_url) as reg:
        artifact = reg.resolve(ref).artifacts["weights.safetensors"]
        return read_safetensors_verified(artifact.path, artifact.sha256)


@pytest.mark.slow
def test_a_registration_killed_with_sigkill_is_reported_cleaned_and_resumed(
    tmp_path: Path, db_url: str | None
) -> None:
    env = _env(db_url)
    home, config, best = _killed_during_registration(tmp_path, env, "killed")

    shown = _neuroplast(env, "registry", "verify", "--home", str(home))
    assert shown.returncode == 0, "litter is reported, but no readable version is damaged"
    assert "0 problems" in shown.stdout and "1 stale drafts, 1 stale runs" in shown.stdout
    assert "stale draft killed:1: unfinished registration of run" in shown.stdout
    assert "a process that no longer runs on this machine" in shown.stdout
    assert "`neuroplast registry gc` cleans up the leftovers" in shown.stdout
    report = json.loads(
        _neuroplast(env, "registry", "verify", "--json", "--home", str(home)).stdout
    )
    assert len(report["stale_drafts"]) == 1 and len(report["stale_runs"]) == 1
    assert report["orphans"] == [] and report["clean"] is True

    cleaned = _gc(env, home)
    assert cleaned["discarded_drafts"] == ["killed:1"] and len(cleaned["interrupted_runs"]) == 1
    assert len(cleaned["removed"]) == 3  # weights, model.json and vocab.json of the draft
    assert not (home / "artifacts" / "killed").exists()
    assert list(home.glob("runs/*/best.json")), "the checkpoints stay, for --resume"
    after = json.loads(_neuroplast(env, "registry", "verify", "--json", "--home", str(home)).stdout)
    assert after["stale_drafts"] == after["stale_runs"] == after["orphans"] == []

    resumed = _neuroplast(env, "train", str(config), "--resume", "--home", str(home))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed after epoch 3" in resumed.stdout and "epoch 1:" not in resumed.stdout
    assert "registered killed:2" in resumed.stdout  # number 1 was the discarded draft's
    weights = _registered_weights(home, db_url, "killed:2")
    assert weights.keys() == best.keys()
    assert all(torch.equal(weights[k], best[k]) for k in best), "not the best checkpoint"
    with Registry(home, url=db_url) as reg:
        version = reg.resolve("killed:2")
        assert [m.epoch for m in reg.epoch_metrics(version.run_id or 0)] == [1, 2, 3]
        assert version.metrics["epochs_trained"] == 3
        assert reg.get_run(version.run_id or 0).status == "completed"
        assert verify(reg).clean and verify(reg).stale_runs == []


@pytest.mark.slow
def test_resume_refuses_a_live_run_and_takes_over_a_killed_registration(tmp_path: Path) -> None:
    env, home = _env(None), tmp_path / "home"
    config = _config(tmp_path, "taken", epochs=3, early_stopping={"enabled": False})
    (tmp_path / "epoch1.go").write_text("go")  # no pause in the middle of training
    proc = _start(["-c", _PAUSING_TRAIN, str(config), str(home), str(tmp_path)], env)
    _wait_for(proc, (tmp_path / "registering").exists, "started registering")

    with Registry(home) as reg, pytest.raises(TrainingError) as refused:
        train_from_config(load_run_config(config), reg, resume=True)
    assert re.search(
        r"--resume: run \w+ of this config is still running \(last heartbeat \d+ s ago by "
        r"[^,]+, a process still running on this machine\); wait for it",
        str(refused.value),
    )
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    (best_checkpoint,) = home.glob("runs/*/best.json")
    best = load_checkpoint(best_checkpoint).model

    resumed = _neuroplast(env, "train", str(config), "--resume", "--home", str(home))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "registered taken:2" in resumed.stdout
    weights = _registered_weights(home, None, "taken:2")
    assert all(torch.equal(weights[k], best[k]) for k in best)
    with Registry(home) as reg:  # resume discarded the draft it took over: nothing left
        report = verify(reg)
        assert report.stale_drafts == report.stale_runs == report.orphans == []
        assert [v.version for v in reg.versions("taken")] == [2]
