"""Where a study lives: Optuna's RDB storage beside the registry's own tables.

Optuna keeps its studies in tables of its own (``studies``, ``trials``, ``trial_params``,
...) and versions them with Alembic in a table named ``alembic_version``: the name the
registry's own migrations use. The two therefore never share one namespace:

- PostgreSQL: the study lives in the registry's database, in the schema ``optuna``
  (created when missing; every connection of Optuna's gets ``search_path=optuna``), so the
  registry's ``public`` tables and Optuna's never meet, and several machines pointed at the
  one server share a study.
- SQLite: a file has a single namespace, so the study goes to ``optuna.db`` in the
  registry's home (the same folder, the same WAL mode and lock waits). Pointing ``--storage``
  at the registry's own ``registry.db`` is refused with this explanation.

A killed worker stops sending heartbeats; its trial is marked failed by the next worker that
starts a trial after the grace period (and at once by ``tune --workers``, which sees its own
processes die).
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.errors import ConfigError, RegistryError

if TYPE_CHECKING:
    import optuna

__all__ = ["OPTUNA_SCHEMA", "StorageSpec", "open_storage", "resolve_storage"]

OPTUNA_SCHEMA = "optuna"
SQLITE_FILE = "optuna.db"
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 60
_LOCK_WAIT_SECONDS = 60


@dataclass(frozen=True)
class StorageSpec:
    """An Optuna storage URL and the PostgreSQL schema its tables live in (None: SQLite...)."""

    url: str
    schema: str | None = None

    def describe(self) -> str:
        from sqlalchemy.engine.url import make_url

        shown = make_url(self.url).render_as_string(hide_password=True)
        return shown if self.schema is None else f"{shown} (schema {self.schema})"


def _parse(url: str, what: str) -> Any:
    from sqlalchemy.engine.url import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError) as e:
        raise ConfigError(
            f"{what} {url!r} is not a database URL: {e}; use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB (or leave --storage out)"
        ) from e


def resolve_storage(registry_url: str, home: Path, storage: str | None = None) -> StorageSpec:
    """The study storage: ``storage`` when given, else next to the registry's database."""
    registry = _parse(registry_url, "the registry database")
    if storage is None:
        if registry.get_backend_name() == "sqlite":
            return StorageSpec(f"sqlite:///{home / SQLITE_FILE}")
        return StorageSpec(registry_url, OPTUNA_SCHEMA)
    url = _parse(storage, "--storage")
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ConfigError(
                f"--storage {storage!r}: an in-memory SQLite study cannot be shared by "
                "workers; give a file (sqlite:///PATH) or leave --storage out"
            )
        if (
            registry.get_backend_name() == "sqlite"
            and registry.database
            and (
                Path(url.database).expanduser().resolve()
                == Path(registry.database).expanduser().resolve()
            )
        ):
            raise ConfigError(
                f"--storage {storage!r} is the registry's own SQLite file: Optuna's "
                "alembic_version table would clash with the registry's; leave --storage out "
                f"(the study then goes to {home / SQLITE_FILE}) or name another file"
            )
        return StorageSpec(storage)
    if backend == "postgresql":
        return StorageSpec(storage, OPTUNA_SCHEMA)
    raise ConfigError(
        f"--storage {storage!r}: backend {backend!r} is not supported; use sqlite:///PATH "
        "or postgresql+psycopg://USER@HOST/DB"
    )


def _prepare_sqlite(url: str) -> dict[str, Any]:
    from sqlalchemy.engine.url import make_url

    path = Path(str(make_url(url).database)).expanduser()
    if not path.parent.is_dir():
        raise ConfigError(f"--storage: the folder {path.parent} does not exist")
    try:
        with sqlite3.connect(path, timeout=_LOCK_WAIT_SECONDS) as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    except sqlite3.Error as e:
        raise RegistryError(f"cannot open the study database {path}: {e}") from e
    return {"connect_args": {"timeout": _LOCK_WAIT_SECONDS}}


def _prepare_postgres(spec: StorageSpec) -> dict[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(spec.url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{spec.schema}"'))
    except SQLAlchemyError as e:
        raise RegistryError(
            f"cannot open the study storage {spec.describe()}: {e.__class__.__name__}: "
            f"{str(e).splitlines()[0]}; check the URL and that the server is running"
        ) from e
    finally:
        engine.dispose()
    return {"connect_args": {"options": f"-csearch_path={spec.schema}"}}


def open_storage(
    spec: StorageSpec,
    *,
    on_stale: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage on ``spec``, with heartbeats (a dead worker's trial fails)."""
    from neuroplast.tuning._optuna import require_optuna

    optuna = require_optuna()
    if spec.schema is not None:
        engine_kwargs = _prepare_postgres(spec)
    elif spec.url.startswith("sqlite"):
        engine_kwargs = _prepare_sqlite(spec.url)
    else:
        engine_kwargs = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                spec.url,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=HEARTBEAT_SECONDS,
                grace_period=GRACE_SECONDS,
                heartbeat_stale_trial_callback=on_stale,
            )
    except Exception as e:  # SQLAlchemy's and Optuna's own errors, wrapped with the URL
        raise RegistryError(
            f"cannot open the study storage {spec.describe()}: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}"
        ) from e
    if spec.schema is None and spec.url.startswith("sqlite"):
        _relax_sync(storage.engine)
    return storage


def _relax_sync(engine: Any) -> None:
    """``synchronous=NORMAL`` on the study's SQLite connections: in WAL mode a commit then
    waits for no fsync and a crash can lose only the last commits, never corrupt the file
    (Optuna's per-trial writes took ~2 ms each with a full sync)."""
    from sqlalchemy import event

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections made before the listener are not reused
