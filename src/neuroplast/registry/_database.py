"""Opening the registry database: engine settings per backend and Alembic migrations.

SQLite gets WAL mode, a busy timeout and ``BEGIN IMMEDIATE`` for writing transactions, so
that several processes can write at once without "database is locked": a writer waits
for the lock instead of failing when its read snapshot turns out to be stale. Reading
transactions stay deferred and never block writers. PostgreSQL needs nothing special.

The schema is versioned by Alembic (migrations in ``registry/migrations``). Opening a
database upgrades it to the newest revision under a lock (a lock file next to a SQLite
database, an advisory lock on PostgreSQL), so that processes opening it together do not
race; a database made before migrations existed is recognised and brought up to date.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import SQLAlchemyError

from neuroplast.errors import RegistryError

__all__ = ["HEAD_REVISION", "READONLY", "current_revision", "make_engine", "upgrade"]

logger = logging.getLogger(__name__)

HEAD_REVISION = "0002"
READONLY = "neuroplast_readonly"  # execution option: a deferred (read) transaction
_BUSY_TIMEOUT_MS = 60_000
_PG_LOCK_KEY = 7_240_001
_MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    mode = "DEFERRED" if conn.get_execution_options().get(READONLY) else "IMMEDIATE"
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the settings its backend needs for concurrent use."""
    try:
        parsed = make_url(url)
    except (SQLAlchemyError, ValueError) as e:
        raise RegistryError(
            f"NEUROPLAST_DB_URL / url {url!r} is not a database URL: {e}; expected e.g. "
            "sqlite:///path/registry.db or postgresql+psycopg://user@host/db"
        ) from e
    if parsed.get_backend_name() == "sqlite":
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


def upgrade(engine: Engine) -> str | None:
    """Bring the database to :data:`HEAD_REVISION`; returns the revision it was at."""
    try:
        with engine.connect() as conn:
            before = current_revision(conn)
        if before == HEAD_REVISION:
            return before
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
