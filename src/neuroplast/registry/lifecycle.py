"""Stages of a model's versions: promote, roll back, and the audit trail of both.

A version is ``candidate`` when it is made, at most one version of a model is
``production``, and a version that leaves production becomes ``archived``. Every change is
an event with the user, the time and the reason, so ``history`` answers "who shipped what,
when and why".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from neuroplast.errors import ConfigError, ModelNotFoundError, RegistryError
from neuroplast.registry._convert import version_record
from neuroplast.registry._events import record_event
from neuroplast.registry.records import VersionRecord
from neuroplast.registry.schema import EventRow, ModelRow, VersionRow
from neuroplast.registry.store import Registry

__all__ = ["STAGES", "Event", "Stage", "add_event", "history", "lineage", "promote", "rollback"]

Stage = Literal["candidate", "production", "archived"]
STAGES: tuple[str, ...] = get_args(Stage)


@dataclass(frozen=True)
class Event:
    at: datetime
    user: str
    action: str
    version: int | None
    stage_from: str | None
    stage_to: str | None
    reason: str
    details: dict[str, Any] | None = None  # the decision's numbers, when it has them


def _model(s: Session, name: str) -> ModelRow:
    model = s.scalars(select(ModelRow).where(ModelRow.name == name)).first()
    if model is None:
        raise ModelNotFoundError(f"no model named {name!r}")
    return model


def _set_stage(s: Session, row: VersionRow, stage: str, action: str, reason: str) -> None:
    if row.stage != stage:
        record_event(
            s, row.model_id, row, action, stage_from=row.stage, stage_to=stage, reason=reason
        )
        row.stage = stage


def promote(registry: Registry, ref: str, stage: str, *, reason: str = "") -> VersionRecord:
    """Move the version ``ref`` to ``stage``; a new production version archives the old one."""
    if stage not in STAGES:
        raise ConfigError(f"--stage must be one of {', '.join(STAGES)}, not {stage!r}")
    target = registry.resolve(ref)
    with registry._session() as s:
        row = s.get(VersionRow, target.id)
        if row is None:
            raise ModelNotFoundError(f"version {ref!r} disappeared")
        if stage == "production":
            for other in s.scalars(
                select(VersionRow).where(
                    VersionRow.model_id == row.model_id,
                    VersionRow.stage == "production",
                    VersionRow.id != row.id,
                )
            ):
                _set_stage(s, other, "archived", "archive", f"replaced by v{row.version}")
        _set_stage(s, row, stage, "promote", reason)
        s.flush()
        return version_record(s, row, registry.artifacts_root)


def rollback(registry: Registry, name: str, *, reason: str = "") -> VersionRecord:
    """Put back in production the version that was there before the current one."""
    with registry._session() as s:
        model = _model(s, name)
        current = s.scalars(
            select(VersionRow).where(
                VersionRow.model_id == model.id, VersionRow.stage == "production"
            )
        ).first()
        if current is None:
            raise RegistryError(f"{name} has no production version to roll back from")
        # The production timeline as a stack: a promotion pushes, a rollback pops, so
        # repeated rollbacks walk back through earlier production versions.
        stack: list[int] = []
        for event in s.scalars(
            select(EventRow)
            .where(EventRow.model_id == model.id, EventRow.stage_to == "production")
            .order_by(EventRow.id)
        ):
            if event.action == "rollback":
                if stack:
                    stack.pop()
            elif event.version_id is not None:
                stack.append(event.version_id)
        while stack and stack[-1] == current.id:
            stack.pop()
        previous = None
        while stack and previous is None:
            found = s.get(VersionRow, stack.pop())
            if found is not None and found.status == "ready" and found.id != current.id:
                previous = found
        if previous is None:
            raise RegistryError(
                f"{name}:{current.version} is the first production version; nothing to roll "
                "back to (promote another version instead)"
            )
        _set_stage(s, current, "archived", "rollback", reason)
        _set_stage(s, previous, "production", "rollback", reason)
        s.flush()
        return version_record(s, previous, registry.artifacts_root)


def history(registry: Registry, name: str) -> list[Event]:
    """Every recorded event of model ``name``, oldest first."""
    with registry._session(readonly=True) as s:
        model = _model(s, name)
        rows = s.scalars(
            select(EventRow).where(EventRow.model_id == model.id).order_by(EventRow.id)
        ).all()
        return [
            Event(
                at=r.at,
                user=r.user,
                action=r.action,
                version=r.version,
                stage_from=r.stage_from,
                stage_to=r.stage_to,
                reason=r.reason,
                details=r.details,
            )
            for r in rows
        ]


def lineage(registry: Registry, ref: str) -> list[VersionRecord]:
    """The version and its ancestors, newest first (``train`` -> ``compress`` -> ...)."""
    chain = [registry.resolve(ref)]
    seen = {chain[0].id}
    while chain[-1].parent_id is not None and chain[-1].parent_id not in seen:
        with registry._session(readonly=True) as s:
            row = s.get(VersionRow, chain[-1].parent_id)
            if row is None:
                break
            chain.append(version_record(s, row, registry.artifacts_root))
        seen.add(chain[-1].id)
    return chain


def add_event(
    registry: Registry,
    ref: str,
    action: str,
    *,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Write an audit event that changes no stage (a closed loop's decision, a drift alarm)
    on model ``ref`` (a name) or one of its versions (``name:N``); ``details`` are its
    numbers (JSON-serialisable)."""
    if not action or len(action) > 30:
        raise ConfigError(f"an event's action is 1 to 30 characters, not {action!r}")
    name, _, number = ref.partition(":")
    target = registry.resolve(ref) if number else None
    with registry._session() as s:
        model = _model(s, name)
        row = None if target is None else s.get(VersionRow, target.id)
        record_event(s, model.id, row, action, reason=reason, details=details)
