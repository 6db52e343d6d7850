"""Opening the registry database: engine settings per backend and Alembic migrations.

SQLite gets WAL mode, a busy timeout and ``BEGIN IMMEDIATE`` for writing transactions, so
that several processes can write at once without "database is locked": a writer waits
for the lock instead of failing when its read snapshot turns out to be stale. Reading
transactions stay deferred and never block writers. PostgreSQL needs nothing special.

The schema is versioned by Alembic (migrations in ``registry/migrations``). Opening a
database upgrades it to the newest revision under a lock (a lock file next to a SQLite
database, an advisory lock on PostgreSQL), so that processes opening it together do not
race; a database made before migrations existed is recognised and brought up to date.

A read-only registry (a home without write permission, a read-only mount) is opened with
SQLite's ``mode=ro`` URI, and ``immutable=1`` when not even the folder is writable (then
SQLite cannot make its WAL index either); nothing is migrated, and a database whose schema
is not current is refused with an explanation instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from neuroplast.errors import RegistryError

__all__ = [
    "HEAD_REVISION",
    "READONLY",
    "ReadOnly",
    "current_revision",
    "make_engine",
    "read_only_reason",
    "upgrade",
]

logger = logging.getLogger(__name__)

HEAD_REVISION = "0005"
READONLY = "neuroplast_readonly"  # execution option: a deferred (read) transaction
_BUSY_TIMEOUT_MS = 60_000
_PG_LOCK_KEY = 7_240_001
_MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass(frozen=True)
class ReadOnly:
    """Why a registry is opened read-only, and whether SQLite must treat the file as
    immutable (its folder is not writable, so no WAL index can be made next to it)."""

    reason: str
    immutable: bool = False


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def read_only_reason(home: Path, url: str) -> ReadOnly | None:
    """None when the home (and a SQLite database file) can be written, else why not."""
    why = "" if _writable(home) else f"{home} is not writable"
    try:
        parsed = make_url(url)
    except (SQLAlchemyError, ValueError):
        return ReadOnly(why) if why else None  # make_engine explains the bad URL
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:":
        return ReadOnly(why) if why else None
    db = Path(database).expanduser().absolute()
    folder_writable = _writable(db.parent)
    if not folder_writable:
        why = why or f"{db.parent} is not writable"
    elif db.exists() and not _writable(db):
        why = why or f"{db} is not writable"
    if not why:
        return None
    wal = db.with_name(db.name + "-wal")
    pending = wal.exists() and wal.stat().st_size > 0  # committed data not yet in the file
    return ReadOnly(why, immutable=not folder_writable and not pending)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _switch_to_wal(cursor: Any, *, timeout: float = _BUSY_TIMEOUT_MS / 1000) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another process holds the lock.

    Two processes opening a brand-new database at once can both try the switch; SQLite may
    answer the second "database is locked" at once instead of waiting out the busy timeout
    (seen once with two ``neuroplast train`` started together on a fresh home).
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def _sqlite_begin(conn: Connection) -> None:
    mode = "DEFERRED" if conn.get_execution_options().get(READONLY) else "IMMEDIATE"
    conn.exec_driver_sql(f"BEGIN {mode}")


def _sqlite_readonly_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")  # no journal_mode: a write
    cursor.close()


def _sqlite_readonly_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN DEFERRED")


def _sqlite_readonly_engine(database: str, *, immutable: bool) -> Engine:
    uri = Path(database).absolute().as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(
            uri, uri=True, timeout=_BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )

    engine = create_engine("sqlite://", creator=connect, poolclass=QueuePool)
    event.listen(engine, "connect", _sqlite_readonly_connect)
    event.listen(engine, "begin", _sqlite_readonly_begin)
    return engine


def make_engine(url: str, *, read_only: bool = False, immutable: bool = False) -> Engine:
    """An engine for ``url`` with the settings its backend needs for concurrent use.

    ``read_only`` opens a SQLite file with ``mode=ro`` (``immutable`` adds ``immutable=1``,
    for a folder SQLite cannot write its WAL index into); other backends ignore both.
    """
    try:
        parsed = make_url(url)
    except (SQLAlchemyError, ValueError) as e:
        raise RegistryError(
            f"NEUROPLAST_DB_URL / url {url!r} is not a database URL: {e}; expected e.g. "
            "sqlite:///path/registry.db or postgresql+psycopg://user@host/db"
        ) from e
    if parsed.get_backend_name() == "sqlite":
        if read_only and parsed.database and parsed.database != ":memory:":
            return _sqlite_readonly_engine(parsed.database, immutable=immutable)
        engine = create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except ImportError as e:
        hint = (
            "install the PostgreSQL driver with `pip install 'neuroplast[postgres]'`"
            if parsed.get_backend_name() == "postgresql"
            else "install its database driver"
        )
        raise RegistryError(f"cannot use the registry database {url!r}: {e}; {hint}") from e
    except SQLAlchemyError as e:
        raise RegistryError(f"cannot use the registry database {url!r}: {e}") from e


def current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        try:
            import fcntl
        except ImportError:  # Windows: SQLite's own locking still serialises the DDL
            yield
            return
        with open(f"{database}.migrate-lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()
    else:
        yield


def _run_alembic(conn: Connection, revision: str, *, stamp: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = conn
    if stamp:
        command.stamp(config, revision)
    else:
        command.upgrade(config, revision)


def upgrade(engine: Engine, *, read_only: bool = False, where: str = "") -> str | None:
    """Bring the database to :data:`HEAD_REVISION`; returns the revision it was at.

    ``read_only``: never write; a database that is not at the newest revision raises
    :class:`RegistryError` (``where`` says why it is read-only).
    """
    try:
        with engine.connect() as conn:
            before = current_revision(conn)
            empty = before is None and "models" not in inspect(conn).get_table_names()
        if before == HEAD_REVISION:
            return before
        if read_only:
            raise RegistryError(
                f"the registry database {where} is read-only and "
                + (
                    "holds no registry yet"
                    if empty
                    else f"its schema is revision {before or 'from before migrations'}, but "
                    f"this neuroplast needs {HEAD_REVISION}"
                )
                + ": open it once with write access (any neuroplast command upgrades it), "
                "or work on a writable copy (cp -a)"
            )
        with _migration_lock(engine), engine.begin() as conn:
            before = current_revision(conn)
            if before == HEAD_REVISION:
                return before
            if before is None and "models" in inspect(conn).get_table_names():
                # Made by neuroplast before migrations existed: that was the first schema
                # (plus, in some databases, the events table, which 0002 tolerates).
                _run_alembic(conn, "0001", stamp=True)
                before = "0001"
            logger.info("upgrading the registry schema from %s to %s", before, HEAD_REVISION)
            _run_alembic(conn, "head")
            return before
    except SQLAlchemyError as e:
        raise RegistryError(f"cannot open the registry database {engine.url!r}: {e}") from e
