"""Registry test backends: SQLite under a temporary home, and a fresh PostgreSQL database
on the server that `.ci/start-postgres` starts (skipped outside CI when none is set up,
a failure in CI)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

from neuroplast.registry import Registry
from tests.conftest import require_postgres

OpenRegistry = Callable[..., Registry]


def postgres_admin_url() -> str:
    return require_postgres()


def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database on the test server, yield its URL, drop it afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine.url import make_url

    admin = make_url(postgres_admin_url())
    name = f"np_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
