"""Leases on running runs and draft versions: ``gc`` leaves what a live process owns alone
and says so; once a lease has expired, ``verify`` reports the litter and ``gc`` cleans it
up (on every backend). A holder on this machine is checked directly (alive or gone); one on
another machine only by its lease's expiry, which the deterministic tests write into the
rows and the heartbeat test leaves to the clock."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from neuroplast.errors import ConfigError, ModelNotFoundError
from neuroplast.registry import Registry, history
from neuroplast.registry._leases import LEASE_ENV, lease_seconds
from neuroplast.registry.artifacts import atomic_write_bytes, atomic_write_json
from neuroplast.registry.maintenance import collect_garbage, gc, verify
from neuroplast.registry.records import VersionRecord
from neuroplast.registry.schema import RunRow, VersionRow
from neuroplast.types import ModelMetrics
from tests.registry._backends import OpenRegistry


def _draft(reg: Registry, run_id: int | None = None) -> VersionRecord:
    """A registration in progress: its number reserved, its weights written."""
    v = reg.create_version(
        "m", architecture="cnn", task="t", modality="text", config={}, run_id=run_id
    )
    atomic_write_bytes(v.artifact_dir / "weights.safetensors", b"w" * 10)
    return v


def _ready(reg: Registry, run_id: int | None = None) -> VersionRecord:
    v = reg.create_version(
        "m", architecture="cnn", task="t", modality="text", config={}, run_id=run_id
    )
    path = v.artifact_dir / "model.json"
    return reg.finalize_version(
        v.id, files={"model.json": (path, atomic_write_json(path, {"v": 1}))}, params_count=1
    )


Table = type[RunRow] | type[VersionRow]


def _elsewhere(reg: Registry, table: Table, row_id: int, **values: object) -> None:
    """As if the lease holder ran on another machine: only its expiry can tell."""
    with reg._session() as s:
        s.execute(
            update(table).where(table.id == row_id).values(lease_owner="elsewhere:4242", **values)
        )


def _expire(reg: Registry, table: Table, row_id: int) -> None:
    """An hour without a heartbeat from a holder on another machine (it was killed)."""
    past = datetime.now(UTC) - timedelta(hours=1)
    _elsewhere(reg, table, row_id, heartbeat_at=past, lease_expires_at=past)


def test_a_live_draft_is_skipped_and_a_stale_one_is_reported_then_discarded(
    open_registry: OpenRegistry,
) -> None:
    reg = open_registry()
    _ready(reg)
    draft = _draft(reg)
    weights = str(draft.artifact_dir / "weights.safetensors")

    report = collect_garbage(reg, grace_seconds=0)
    assert report.removed == [] and report.discarded_drafts == []
    assert [s.item for s in report.skipped] == ["m:2"]
    assert report.skipped[0].reason.startswith("registration in progress, 1 files (")
    assert "a process still running on this machine" in report.skipped[0].reason
    _elsewhere(reg, VersionRow, draft.id)  # held from another machine: the expiry decides
    assert "lease live for 10 min more" in collect_garbage(reg).skipped[0].reason
    assert os.path.isfile(weights)
    live = verify(reg)
    assert live.orphans == [] and live.stale_drafts == [] and len(live.in_progress) == 1

    _expire(reg, VersionRow, draft.id)
    stale = verify(reg)
    assert stale.clean, "litter is not damage: every ready version is intact"
    assert stale.orphans == [] and stale.in_progress == []
    (words,) = stale.stale_drafts
    assert words.startswith(
        "m:2: unfinished registration, 1 files; last heartbeat 60 min ago by elsewhere:4242"
    )
    assert "lease expired 60 min ago" in words

    report = collect_garbage(reg, grace_seconds=0)
    assert report.discarded_drafts == ["m:2"] and report.removed == [weights]
    assert not draft.artifact_dir.exists()
    assert verify(reg).stale_drafts == [] and verify(reg).clean
    with pytest.raises(ModelNotFoundError):  # the dead process cannot finish it any more
        reg.finalize_version(draft.id, files={}, params_count=0)
    assert ("discard", 2) in [(e.action, e.version) for e in history(reg, "m")]
    assert _ready(reg).version == 3, "a discarded draft's number is never given out again"


def test_a_stale_running_run_is_reported_then_marked_interrupted_and_keeps_its_checkpoints(
    open_registry: OpenRegistry,
) -> None:
    reg = open_registry()
    run = reg.start_run("m", {"lr": 0.1})
    checkpoint = run.checkpoint_dir / "last.json"
    atomic_write_json(checkpoint, {"epoch": 1})
    reg.log_epoch(run.id, ModelMetrics(epoch=1, train_loss=0.5))

    live = verify(reg)
    assert live.stale_runs == []
    assert live.in_progress[0].startswith(f"run {run.uid} (m): running, 1 epochs done; ")
    report = collect_garbage(reg, grace_seconds=0)
    assert report.interrupted_runs == []
    assert [s.item for s in report.skipped] == [f"run {run.uid}"]
    assert report.skipped[0].reason.endswith("its checkpoints are kept")

    _expire(reg, RunRow, run.id)
    (words,) = verify(reg).stale_runs
    assert "lease expired 60 min ago" in words and "--resume" in words
    assert collect_garbage(reg, grace_seconds=0).interrupted_runs == [run.uid]
    after = reg.get_run(run.id)
    assert after.status == "interrupted" and after.finished_at is not None
    assert after.error is not None and "--resume" in after.error
    assert checkpoint.is_file(), "an interrupted run keeps its checkpoints, for --resume"
    assert verify(reg).stale_runs == []

    assert reg.claim_run(run.id) is None  # `train --resume` takes it over
    assert reg.get_run(run.id).status == "running"
    refusal = reg.claim_run(run.id)  # and nobody else can while this process lives
    assert refusal is not None and "a process still running on this machine" in refusal


def test_a_run_killed_after_registering_is_marked_completed(open_registry: OpenRegistry) -> None:
    reg = open_registry()
    run = reg.start_run("m", {"lr": 0.1})
    atomic_write_json(run.checkpoint_dir / "last.json", {"epoch": 1})
    _ready(reg, run_id=run.id)
    assert reg.latest_interrupted_run({"lr": 0.1}) is None, "nothing to resume: it registered"
    _expire(reg, RunRow, run.id)
    report = collect_garbage(reg, grace_seconds=0)
    assert report.completed_runs == [run.uid] and report.interrupted_runs == []
    assert reg.get_run(run.id).status == "completed"
    assert not run.checkpoint_dir.exists()


def test_a_draft_lives_as_long_as_its_run(open_registry: OpenRegistry) -> None:
    reg = open_registry()
    run = reg.start_run("m", {})
    draft = _draft(reg, run_id=run.id)
    _expire(reg, VersionRow, draft.id)  # its own lease ran out; its run still beats
    report = collect_garbage(reg, grace_seconds=0)
    assert report.discarded_drafts == [] and [s.item for s in report.skipped] == [
        f"run {run.uid}",
        "m:1",
    ]
    assert f"its run {run.uid} is alive" in report.skipped[1].reason
    _expire(reg, RunRow, run.id)
    (words,) = verify(reg).stale_drafts
    assert words.startswith(f"m:1: unfinished registration of run {run.uid}, 1 files;")
    report = collect_garbage(reg, grace_seconds=0)
    assert report.discarded_drafts == ["m:1"] and report.interrupted_runs == [run.uid]


def test_the_heartbeat_keeps_a_run_alive_past_its_lease_and_a_dead_one_expires(
    open_registry: OpenRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LEASE_ENV, "1")
    reg = open_registry()
    run = reg.start_run("m", {})
    with reg.heartbeat(run.id):
        time.sleep(2.5)  # 2.5 leases: only the renewals keep it alive
        _elsewhere(reg, RunRow, run.id)  # seen from another machine: by its expiry
        assert verify(reg).stale_runs == []
    _elsewhere(reg, RunRow, run.id)
    time.sleep(1.5)  # the holder "died": nobody renews
    (words,) = verify(reg).stale_runs
    assert "by elsewhere:4242, lease expired 1 s ago" in words
    assert collect_garbage(reg, grace_seconds=0).interrupted_runs == [run.uid]


def test_a_holder_on_this_machine_is_alive_or_gone_whatever_its_lease_says(
    open_registry: OpenRegistry,
) -> None:
    reg = open_registry()
    reg.start_run("m", {})
    past = datetime.now(UTC) - timedelta(hours=1)
    with reg._session() as s:  # this process holds it, but forgot to renew for an hour
        s.execute(update(RunRow).values(lease_expires_at=past, heartbeat_at=past))
    assert verify(reg).stale_runs == [], "alive here: an epoch may just take long"
    code = "from neuroplast.registry._leases import lease_owner; print(lease_owner())"
    dead = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    future = datetime.now(UTC) + timedelta(hours=1)
    with reg._session() as s:  # a process that exited, its lease good for another hour
        s.execute(update(RunRow).values(lease_owner=dead, lease_expires_at=future))
    (words,) = verify(reg).stale_runs
    assert f"by {dead.split(' [')[0]}, a process that no longer runs on this machine" in words


def test_gc_keeps_young_temporary_files_for_the_grace_period(
    open_registry: OpenRegistry,
) -> None:
    reg = open_registry()
    _ready(reg)
    stray = reg.artifacts_root / "old" / "v9" / "weights.safetensors"
    partial = reg.artifacts_root / "m" / "v1" / ".model.json.1234.tmp"  # a write in progress
    empty = reg.artifacts_root / "m" / "v8"  # a writer's fresh folder, not filled yet
    empty.mkdir()
    for path in (stray, partial):
        atomic_write_bytes(path, b"x")
    report = collect_garbage(reg, grace_seconds=60)
    assert report.removed == [str(stray)], "a finished file nobody records is an orphan"
    assert not stray.parent.exists(), "the folder gc emptied goes too"
    assert [s.item for s in report.skipped] == [str(partial)]
    assert report.skipped[0].reason.endswith("s ago, within the 60 s grace period")
    assert empty.is_dir()
    old = time.time() - 120
    for path in (partial, empty):
        os.utime(path, (old, old))
    assert gc(reg, grace_seconds=60) == [str(partial)]
    assert not empty.exists()
    assert verify(reg).clean and (reg.artifacts_root / "m" / "v1" / "model.json").is_file()


def test_the_lease_duration_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LEASE_ENV, raising=False)
    assert lease_seconds() == 600
    monkeypatch.setenv(LEASE_ENV, "2.5")
    assert lease_seconds() == 2.5
    for bad in ("soon", "0", "-3", "nan", "inf"):
        monkeypatch.setenv(LEASE_ENV, bad)
        with pytest.raises(ConfigError, match=rf"NEUROPLAST_LEASE_SECONDS='{bad}' is not a"):
            lease_seconds()
