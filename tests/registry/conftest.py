"""The registry tests run on every backend (SQLite and PostgreSQL), so they cannot drift
apart: tests take ``open_registry`` instead of constructing a Registry themselves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from neuroplast.registry import Registry
from tests.registry._backends import OpenRegistry, fresh_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """``None`` means the default SQLite file under the home directory."""
    if request.param == "sqlite":
        yield None
    else:
        yield from fresh_postgres_database()


@pytest.fixture()
def open_registry(tmp_path: Path, db_url: str | None) -> Iterator[OpenRegistry]:
    opened: list[Registry] = []

    def _open(home: Path | None = None) -> Registry:
        registry = Registry(home or tmp_path, url=db_url)
        opened.append(registry)
        return registry

    yield _open
    for registry in opened:
        registry.close()
