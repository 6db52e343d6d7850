"""Paged reads of the registry, for the dashboard (``neuroplast ui``).

The registry's own listings return everything (``versions``, ``history``, ``list_models``);
a dashboard page must stay cheap however long a model's history grows, so the long lists
here are read a page at a time, newest first, each through an index: models by name,
versions by ``ix_versions_model_status``, events by ``model_id``, runs by primary key. A
page asks for one row more than it shows, to know whether a next page exists.

These read the registry's tables through its read-only session, as ``registry.lifecycle``
does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy import case, func, select

from neuroplast.registry._convert import run_record, version_record
from neuroplast.registry._prediction_log import find_model
from neuroplast.registry.lifecycle import Event
from neuroplast.registry.records import RunRecord, VersionRecord
from neuroplast.registry.schema import EventRow, ModelRow, RunRow, VersionRow
from neuroplast.registry.store import Registry

__all__ = [
    "PAGE_SIZE",
    "ModelRowView",
    "Page",
    "Traffic",
    "events_page",
    "models_page",
    "runs_page",
    "traffic",
    "versions_page",
]

PAGE_SIZE = 25
#: The newest log rows the traffic panel reads (it says so when a window holds more).
TRAFFIC_ROWS = 5000
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """``items`` of page ``number`` (1-based); ``more``: a next page exists."""

    items: list[T]
    number: int
    more: bool

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.more else None


def _page(rows: Sequence[T], number: int, size: int) -> Page[T]:
    return Page(list(rows[:size]), number, len(rows) > size)


@dataclass(frozen=True)
class ModelRowView:
    name: str
    architecture: str
    task: str
    modality: str
    versions: int
    newest: int | None
    production: int | None


def models_page(registry: Registry, number: int, size: int = PAGE_SIZE) -> Page[ModelRowView]:
    """Models by name; per model its ready versions, newest and production version number."""
    with registry._session(readonly=True) as s:
        models = s.scalars(
            select(ModelRow).order_by(ModelRow.name).offset((number - 1) * size).limit(size + 1)
        ).all()
        ids = [m.id for m in models]
        counts = {
            model_id: (int(n), newest, production)
            for model_id, n, newest, production in s.execute(
                select(
                    VersionRow.model_id,
                    func.count(VersionRow.id),
                    func.max(VersionRow.version),
                    func.max(
                        case((VersionRow.stage == "production", VersionRow.version), else_=None)
                    ),
                )
                .where(VersionRow.model_id.in_(ids), VersionRow.status == "ready")
                .group_by(VersionRow.model_id)
            ).all()
        }
        rows = [
            ModelRowView(
                m.name, m.architecture, m.task, m.modality, *counts.get(m.id, (0, None, None))
            )
            for m in models
        ]
    return _page(rows, number, size)


def versions_page(
    registry: Registry, model: str, number: int, size: int = PAGE_SIZE
) -> Page[VersionRecord]:
    """The ready versions of ``model``, newest first (an unknown model: ModelNotFoundError)."""
    with registry._session(readonly=True) as s:
        row = find_model(s, model)
        found = s.scalars(
            select(VersionRow)
            .where(VersionRow.model_id == row.id, VersionRow.status == "ready")
            .order_by(VersionRow.version.desc())
            .offset((number - 1) * size)
            .limit(size + 1)
        ).all()
        records = [version_record(s, v, registry.artifacts_root) for v in found]
    return _page(records, number, size)


def events_page(registry: Registry, model: str, number: int, size: int = PAGE_SIZE) -> Page[Event]:
    """The audit trail of ``model``, newest first."""
    with registry._session(readonly=True) as s:
        row = find_model(s, model)
        found = s.scalars(
            select(EventRow)
            .where(EventRow.model_id == row.id)
            .order_by(EventRow.id.desc())
            .offset((number - 1) * size)
            .limit(size + 1)
        ).all()
        events = [
            Event(r.at, r.user, r.action, r.version, r.stage_from, r.stage_to, r.reason)
            for r in found
        ]
    return _page(events, number, size)


def runs_page(registry: Registry, number: int, size: int = PAGE_SIZE) -> Page[RunRecord]:
    """Training runs, newest first."""
    with registry._session(readonly=True) as s:
        found = s.scalars(
            select(RunRow).order_by(RunRow.id.desc()).offset((number - 1) * size).limit(size + 1)
        ).all()
        records = [run_record(r, registry.home) for r in found]
    return _page(records, number, size)


@dataclass(frozen=True)
class Traffic:
    """Requests per minute over the last ``minutes`` (oldest first), from the newest
    ``TRAFFIC_ROWS`` logged inputs; ``truncated``: the window held more than that."""

    minutes: int
    per_minute: list[tuple[datetime, int]]
    requests: int
    truncated: bool


def traffic(registry: Registry, model: str, *, minutes: int = 60) -> Traffic:
    now = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = now - timedelta(minutes=minutes)
    rows = registry.predictions(model, since=start, limit=TRAFFIC_ROWS)
    seen: dict[int, set[str]] = {}
    for row in rows:
        slot = int((row.at - start).total_seconds() // 60)
        if 0 <= slot < minutes:
            seen.setdefault(slot, set()).add(row.request_id)
    per_minute = [(start + timedelta(minutes=i), len(seen.get(i, ()))) for i in range(minutes)]
    return Traffic(
        minutes,
        per_minute,
        sum(n for _, n in per_minute),
        truncated=len(rows) == TRAFFIC_ROWS,
    )
