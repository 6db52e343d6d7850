"""Runs and registrations in progress, and what interrupted ones leave behind.

A ``running`` run and a ``draft`` version are *live* while a lease keeps them (see
``_leases``): a draft's own lease, or its run's. When the lease has expired the process
is gone (``kill -9``, a lost machine) and they are *stale*: ``verify`` reports them,
``gc`` discards a stale draft (rows and files; its number stays used, as a ``discard``
event) and marks a stale run ``interrupted`` (its checkpoints stay, for ``--resume``), or
``completed`` when it had registered its version before it died. Both re-check the lease
inside the writing transaction, so a process that renews at the last moment wins.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from neuroplast.registry._events import record_event
from neuroplast.registry._leases import Lease, db_now
from neuroplast.registry._paths import is_url, resolve_location
from neuroplast.registry._runs import run_lease
from neuroplast.registry.schema import (
    ArtifactRow,
    EvaluationRow,
    EventRow,
    ModelRow,
    RunRow,
    VersionRow,
    utcnow,
)
from neuroplast.registry.store import Registry

__all__ = [
    "DraftState",
    "RunState",
    "discard_draft",
    "in_progress",
    "remove_version_rows",
    "settle_run",
]


@dataclass(frozen=True)
class DraftState:
    id: int
    ref: str
    run_uid: str | None
    directory: Path  # where the registration writes its files on this machine
    prefixes: tuple[str, ...]  # every location under one of these belongs to the draft
    live: bool
    lease: str  # the lease, in words

    def owns(self, location: str) -> bool:
        return any(location.startswith(prefix) for prefix in self.prefixes)


@dataclass(frozen=True)
class RunState:
    id: int
    uid: str
    model_name: str
    epochs_done: int
    checkpoint_dir: Path
    live: bool
    lease: str


def _draft_lease(row: VersionRow) -> Lease:
    return Lease(row.lease_owner, row.heartbeat_at, row.lease_expires_at, row.created_at)


def _draft_live(s: Session, row: VersionRow, now: datetime) -> tuple[bool, str]:
    """A draft lives while its own lease or its run's does; returns (live, in words)."""
    own = _draft_lease(row)
    run = s.get(RunRow, row.run_id) if row.run_id is not None else None
    if run is not None and run_lease(run).live(now):
        return True, f"its run {run.uid} is alive: {run_lease(run).describe(now)}"
    return own.live(now), own.describe(now)


def in_progress(registry: Registry) -> tuple[list[DraftState], list[RunState]]:
    """Every draft version and every run marked running, live or stale."""
    root = registry.artifacts_root
    with registry._session(readonly=True) as s:
        now = db_now(s)
        drafts = []
        for row, name in s.execute(
            select(VersionRow, ModelRow.name)
            .join(ModelRow, VersionRow.model_id == ModelRow.id)
            .where(VersionRow.status == "draft")
            .order_by(VersionRow.id)
        ).all():
            directory = Path(resolve_location(row.artifact_dir, root))
            prefixes = {f"{directory}/"}
            if not registry.artifact_store.is_local(root):
                prefixes.add(registry.artifact_store.location_of(f"{name}/v{row.version}") + "/")
            run = s.get(RunRow, row.run_id) if row.run_id is not None else None
            live, lease = _draft_live(s, row, now)
            drafts.append(
                DraftState(
                    id=row.id,
                    ref=f"{name}:{row.version}",
                    run_uid=None if run is None else run.uid,
                    directory=directory,
                    prefixes=tuple(sorted(prefixes)),
                    live=live,
                    lease=lease,
                )
            )
        runs = [
            RunState(
                id=r.id,
                uid=r.uid,
                model_name=r.model_name,
                epochs_done=r.epochs_done,
                checkpoint_dir=Path(resolve_location(r.checkpoint_dir, registry.home)),
                live=run_lease(r).live(now),
                lease=run_lease(r).describe(now),
            )
            for r in s.scalars(select(RunRow).where(RunRow.status == "running").order_by(RunRow.id))
        ]
    return drafts, runs


def remove_version_rows(s: Session, row: VersionRow, action: str, reason: str) -> None:
    """Delete a version's rows; the audit trail keeps an ``action`` event with its number
    (so the number is never given out again)."""
    record_event(s, row.model_id, row, action, stage_from=row.stage, reason=reason)
    s.flush()
    s.execute(update(VersionRow).where(VersionRow.parent_id == row.id).values(parent_id=None))
    s.execute(delete(ArtifactRow).where(ArtifactRow.version_id == row.id))
    s.execute(delete(EvaluationRow).where(EvaluationRow.version_id == row.id))
    s.execute(update(EventRow).where(EventRow.version_id == row.id).values(version_id=None))
    s.delete(row)


def discard_draft(
    registry: Registry, draft: DraftState, listed: list[str], *, force: bool = False
) -> list[str] | None:
    """Remove a stale draft's rows, then its files (of ``listed``, the store's files, and
    its local folder). None, with nothing changed, when its lease turned out live (unless
    ``force``: the caller owns the draft's run)."""
    with registry._session() as s:
        row = s.scalars(
            select(VersionRow).where(VersionRow.id == draft.id).with_for_update()
        ).first()
        if row is None or row.status != "draft":
            return []  # finalized or discarded meanwhile by another process
        live, lease = _draft_live(s, row, db_now(s))
        if live and not force:
            return None
        why = "its run was resumed" if force else lease
        remove_version_rows(s, row, "discard", f"unfinished registration; {why}")
    removed = []
    for location in listed:
        if draft.owns(location):
            store = registry.artifact_store if is_url(location) else None
            if store is not None:
                store.delete(location)
            else:
                Path(location).unlink(missing_ok=True)
            removed.append(location)
    if draft.directory.is_dir():
        shutil.rmtree(draft.directory)
    return removed


def settle_run(registry: Registry, run: RunState) -> str | None:
    """Mark a stale running run interrupted (completed, when its version is registered:
    then, as :meth:`Registry.complete_run` does, its checkpoints go). Returns the new
    status, or None when its lease turned out live."""
    with registry._session() as s:
        row = s.scalars(select(RunRow).where(RunRow.id == run.id).with_for_update()).first()
        if row is None or row.status != "running":
            return row.status if row is not None else "deleted"
        now = db_now(s)
        lease = run_lease(row)
        if lease.live(now):
            return None
        registered = s.scalars(
            select(VersionRow.id).where(VersionRow.run_id == row.id, VersionRow.status == "ready")
        ).first()
        row.finished_at = utcnow()
        row.status = "interrupted" if registered is None else "completed"
        if registered is None:
            row.error = (
                f"the process stopped without a word ({lease.describe(now)}); continue it with "
                "`neuroplast train CONFIG --resume`"
            )
        status = row.status
    if status == "completed" and run.checkpoint_dir.is_dir():
        shutil.rmtree(run.checkpoint_dir)
    return status
