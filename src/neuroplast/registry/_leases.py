"""Leases: how ``registry gc`` and ``verify`` tell a live run or registration from litter.

A running run and a draft version hold a lease in the database: who holds it
(``host:pid``), the last heartbeat and when it expires. :class:`Heartbeat` renews a run's
lease from a background thread while its process lives (and every logged epoch renews it
too); a draft has a lease of its own from the moment its number is reserved, and is also
alive while its run's lease is. A process killed with ``kill -9`` stops renewing, so its
lease runs out after ``NEUROPLAST_LEASE_SECONDS`` (default 600) and what it left behind
becomes litter that ``gc`` may collect.

The lease lives in the database rather than in a lock file because a PostgreSQL registry
may be shared by several machines: no file lock is visible to all of them. Times come from
the database's clock on PostgreSQL (machines' clocks may disagree), from this machine's on
SQLite (one machine). The holder decides the duration (it writes the expiry), so processes
with different settings still agree on whether a lease is live.

The holder also records who it is precisely enough to be checked on its own machine (Linux:
the boot, the PID namespace, the PID and the process's start time). A process there can
then tell at once that the holder is gone (``kill -9``; ``train --resume`` need not wait for
the lease to run out) or still alive (a lease that ran out because an epoch outlasted it is
not taken away). From another machine only the expiry counts.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from neuroplast.errors import ConfigError, NeuroplastError
from neuroplast.registry.schema import utcnow

if TYPE_CHECKING:
    from neuroplast.registry._runs import RunsMixin

__all__ = [
    "LEASE_ENV",
    "Heartbeat",
    "Lease",
    "aware",
    "db_now",
    "lease_owner",
    "lease_seconds",
    "owner_alive",
]

logger = logging.getLogger(__name__)

LEASE_ENV = "NEUROPLAST_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 600.0


def lease_seconds() -> float:
    """``$NEUROPLAST_LEASE_SECONDS`` (default 600): how long a heartbeat keeps a lease,
    and how young an unreferenced file must be for ``gc`` to leave it alone."""
    raw = os.environ.get(LEASE_ENV, "").strip()
    if not raw:
        return DEFAULT_LEASE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(
            f"{LEASE_ENV}={raw!r} is not a positive number of seconds; unset it for the "
            f"default ({DEFAULT_LEASE_SECONDS:.0f})"
        )
    return value


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), None if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # after "pid (comm)", which may hold spaces
    return fields[19] if len(fields) > 19 else None


@functools.cache
def _machine() -> str | None:
    """This boot of this kernel and this PID namespace: where PIDs can be checked."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return f"{boot}/{namespace}"


def lease_owner() -> str:
    """``host:pid`` of this process, for people, then ``[machine/start]`` to check it by."""
    owner = f"{socket.gethostname()[:100]}:{os.getpid()}"
    machine, start = _machine(), _start_time(os.getpid())
    return owner if machine is None or start is None else f"{owner} [{machine}/{start}]"


def owner_alive(owner: str | None) -> bool | None:
    """Whether the lease holder ``owner`` still runs: known only on its own machine (and
    PID namespace); None elsewhere, or for an owner recorded without its identity."""
    if not owner or not owner.endswith("]") or " [" not in owner:
        return None
    shown, _, identity = owner[:-1].rpartition(" [")
    machine, _, start = identity.rpartition("/")
    if machine != _machine():
        return None
    try:
        pid = int(shown.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None
    return _start_time(pid) == start  # gone, or its PID now belongs to another process


def aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without a time zone; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def db_now(s: Session) -> datetime:
    """Now, by the database's clock on PostgreSQL (shared across machines), else ours."""
    if s.get_bind().dialect.name == "postgresql":
        return aware(s.scalar(select(func.now())) or utcnow())
    return utcnow()


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Lease:
    """The lease columns of one row. ``expires_at`` None (rows from before leases existed):
    ``since`` (when the row was made) plus the lease duration."""

    owner: str | None
    heartbeat_at: datetime | None
    expires_at: datetime | None
    since: datetime

    def expiry(self) -> datetime:
        if self.expires_at is not None:
            return aware(self.expires_at)
        return aware(self.since) + timedelta(seconds=lease_seconds())

    def live(self, now: datetime) -> bool:
        """Its holder runs on this machine, or (elsewhere) the lease has not expired."""
        alive = owner_alive(self.owner)
        return alive if alive is not None else self.expiry() > now

    def describe(self, now: datetime) -> str:
        beat = aware(self.heartbeat_at or self.since)
        shown = (self.owner or "").split(" [", 1)[0]
        who = f" by {shown}" if shown else ""
        alive = owner_alive(self.owner)
        expiry = self.expiry()
        if alive is False:
            state = "a process that no longer runs on this machine"
        elif alive:
            state = "a process still running on this machine"
        elif expiry > now:
            state = f"lease live for {_ago((expiry - now).total_seconds())} more"
        else:
            state = f"lease expired {_ago((now - expiry).total_seconds())} ago"
        return f"last heartbeat {_ago((now - beat).total_seconds())} ago{who}, {state}"


class Heartbeat:
    """``with Heartbeat(registry, run_id):`` renews the run's lease every quarter of the
    lease duration from a daemon thread until the block ends. A failed renewal is logged
    and retried; it never interrupts the work it protects."""

    def __init__(self, registry: RunsMixin, run_id: int, *, seconds: float | None = None) -> None:
        self.registry = registry
        self.run_id = run_id
        self.seconds = lease_seconds() if seconds is None else seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        if not self.registry.renew_run_lease(self.run_id, seconds=self.seconds):
            logger.warning(
                "run %d is no longer marked running (its lease expired and `registry gc` "
                "marked it interrupted?); renewing its lease anyway",
                self.run_id,
            )

    def _loop(self) -> None:
        while not self._stop.wait(self.seconds / 4):
            try:
                self.beat()
            except (NeuroplastError, SQLAlchemyError, OSError) as e:
                logger.warning("could not renew the lease of run %d: %s", self.run_id, e)

    def __enter__(self) -> Heartbeat:
        self.beat()
        self._thread = threading.Thread(
            target=self._loop, name=f"neuroplast-lease-run-{self.run_id}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
