"""Stored drift checks (the ``drift_checks`` table): each run of ``neuroplast monitor`` or of
the closed loop's trigger, with its report, so the dashboard shows the newest per model."""

from __future__ import annotations

import math
from abc import abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from neuroplast.errors import ConfigError, DataError
from neuroplast.registry._prediction_log import as_utc, find_model
from neuroplast.registry.schema import DriftCheckRow, EventRow, utcnow

if TYPE_CHECKING:
    from neuroplast.registry.lifecycle import Event

__all__ = ["DriftCheckRecord", "DriftMixin"]

#: The closed loop's audit events: their action starts with this.
LOOP_PREFIX = "loop_"
#: A stored report keeps at most this many windows (the newest): ``monitor`` reads 50.
MAX_STORED_WINDOWS = 200


@dataclass(frozen=True)
class DriftCheckRecord:
    """One stored check: ``version`` is the number tested, ``report`` the whole report
    (``MonitorReport.to_dict()``: every window's tests)."""

    id: int
    model: str
    version: int
    at: datetime
    reference: str
    window: int
    alpha: float
    windows: int
    alarms: int
    report: dict[str, Any]

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.version}"

    @property
    def window_alarms(self) -> list[bool]:
        """Each window's alarm, oldest first."""
        return [bool(w.get("alarm")) for w in self.report.get("windows", [])]


def _field(report: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = report.get(key)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise DataError(
            f"a drift check's report needs {key!r} ({getattr(kind, '__name__', kind)}), "
            f"not {value!r:.60}; pass MonitorReport.to_dict()"
        )
    return value


class DriftMixin:
    """Drift checks; :class:`~neuroplast.registry.store.Registry` supplies the session."""

    @abstractmethod
    def _session(self, *, readonly: bool = False) -> AbstractContextManager[Session]: ...

    def add_drift_check(self, report: dict[str, Any], *, at: datetime | None = None) -> int:
        """Store one check, given ``MonitorReport.to_dict()`` (its ``version`` is the ref
        ``name:N`` it tested); returns the row's id."""
        if not isinstance(report, dict):
            raise DataError(f"a drift check is a report dict, not {type(report).__name__}")
        name, _, number = _field(report, "version", str).partition(":")
        if not number.isdigit():
            raise DataError(f"a drift check's version must be a ref NAME:N, not {name!r}")
        windows = _field(report, "windows", list)
        alpha = float(_field(report, "alpha", (int, float)))
        if not math.isfinite(alpha) or not 0 < alpha < 1:
            raise DataError(f"a drift check's alpha must be in (0, 1), not {alpha!r}")
        stored = dict(report, windows=windows[-MAX_STORED_WINDOWS:])
        with self._session() as s:
            row = DriftCheckRow(
                model_id=find_model(s, name).id,
                version=int(number),
                at=at or utcnow(),
                reference=str(_field(report, "reference", str))[:20],
                window=int(_field(report, "window", int)),
                alpha=alpha,
                windows=len(windows),
                alarms=sum(bool(w.get("alarm")) for w in windows if isinstance(w, dict)),
                report=stored,
            )
            s.add(row)
            s.flush()
            return int(row.id)

    def drift_checks(self, model: str, limit: int = 20) -> list[DriftCheckRecord]:
        """The newest ``limit`` checks of ``model`` (a name), newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"limit must be an integer >= 1, not {limit!r}")
        with self._session(readonly=True) as s:
            found = find_model(s, model.partition(":")[0])
            rows = s.scalars(
                select(DriftCheckRow)
                .where(DriftCheckRow.model_id == found.id)
                .order_by(DriftCheckRow.at.desc(), DriftCheckRow.id.desc())
                .limit(limit)
            ).all()
            return [
                DriftCheckRecord(
                    r.id,
                    found.name,
                    r.version,
                    as_utc(r.at),
                    r.reference,
                    r.window,
                    r.alpha,
                    r.windows,
                    r.alarms,
                    dict(r.report),
                )
                for r in rows
            ]

    def loop_events(self, model: str, limit: int = 20) -> list[Event]:
        """The newest ``limit`` decisions of the closed loop on ``model`` (audit events whose
        action starts with ``loop_``), newest first, with their numbers (``details``)."""
        from neuroplast.registry.lifecycle import Event

        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"limit must be an integer >= 1, not {limit!r}")
        with self._session(readonly=True) as s:
            found = find_model(s, model.partition(":")[0])
            rows = s.scalars(
                select(EventRow)
                .where(
                    EventRow.model_id == found.id,
                    EventRow.action.startswith(LOOP_PREFIX, autoescape=True),
                )
                .order_by(EventRow.id.desc())
                .limit(limit)
            ).all()
            return [
                Event(
                    as_utc(r.at),
                    r.user,
                    r.action,
                    r.version,
                    r.stage_from,
                    r.stage_to,
                    r.reason,
                    None if r.details is None else dict(r.details),
                )
                for r in rows
            ]
