"""The registry store: one SQLAlchemy database plus an artifact directory under a home folder.

SQLite (one file, WAL mode, busy timeout, immediate write transactions) by default;
PostgreSQL (or any SQLAlchemy URL) via ``url`` or ``NEUROPLAST_DB_URL``. The schema is
migrated by Alembic when the database is opened (see ``_database``). Rows describe
artifacts; artifact bytes live in files that are written atomically and verified by
hash when read back. Rows record locations relative to the home (``_paths``), so a home
can be moved or copied. A home that cannot be written is opened read-only: reading works,
writing raises :class:`~neuroplast.errors.RegistryError`.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from neuroplast.config import is_valid_model_name
from neuroplast.errors import ConfigError, ModelNotFoundError, RegistryError
from neuroplast.registry._convert import version_record
from neuroplast.registry._database import READONLY, make_engine, read_only_reason, upgrade
from neuroplast.registry._drift import DriftMixin
from neuroplast.registry._evaluations import EvaluationsMixin
from neuroplast.registry._events import record_event
from neuroplast.registry._kinds import check_same_kind
from neuroplast.registry._leases import db_now, lease_owner, lease_seconds
from neuroplast.registry._paths import store_location
from neuroplast.registry._runs import RunsMixin, config_hash
from neuroplast.registry.artifact_store import ArtifactStore, open_artifact_store
from neuroplast.registry.artifacts import atomic_write_bytes, read_verified, sha256_file
from neuroplast.registry.records import ModelSummary, VersionRecord
from neuroplast.registry.schema import (
    SCHEMA_VERSION,
    ArtifactRow,
    EventRow,
    ModelRow,
    SchemaInfo,
    VersionRow,
)
from neuroplast.registry.traffic import TrafficMixin

__all__ = ["Registry", "config_hash", "default_home"]

logger = logging.getLogger(__name__)
_REF_RE = re.compile(r"^(?P<name>[^:]+):(?P<version>\d+)$")
#: The largest version number a ref may name: the column is a 32-bit INTEGER on PostgreSQL
#: (SQLite overflowed at 2**63 with a traceback).
_MAX_VERSION = 2**31 - 1


def default_home() -> Path:
    """``$NEUROPLAST_HOME`` or ``~/.neuroplast``."""
    return Path(os.environ.get("NEUROPLAST_HOME") or Path.home() / ".neuroplast").expanduser()


class Registry(RunsMixin, EvaluationsMixin, TrafficMixin, DriftMixin):
    """Models, versions, runs, metrics and evaluations of one neuroplast home."""

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        url: str | None = None,
        artifact_url: str | None = None,
        read_only: bool = False,
    ) -> None:
        """``read_only``: never write (also chosen by itself when the home or the SQLite
        database cannot be written: a ``chmod -R a-w`` home, a read-only mount)."""
        self.home = (Path(home).expanduser() if home is not None else default_home()).absolute()
        if not self.home.is_dir():
            try:
                self.home.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise RegistryError(f"cannot create the neuroplast home {self.home}: {e}") from e
        self.url = url or os.environ.get("NEUROPLAST_DB_URL") or f"sqlite:///{self.db_path}"
        detected = read_only_reason(self.home, self.url)
        self.read_only_reason: str | None = (
            "opened read-only" if read_only else None if detected is None else detected.reason
        )
        if self.read_only and self.url == f"sqlite:///{self.db_path}" and not self.db_path.exists():
            raise RegistryError(
                f"there is no registry in {self.home}, and it is read-only "
                f"({self.read_only_reason}): train or import a model where the home is writable"
            )
        self.artifact_store: ArtifactStore = open_artifact_store(
            artifact_url or os.environ.get("NEUROPLAST_ARTIFACT_URL") or self.artifacts_root
        )
        self._engine: SAEngine = make_engine(
            self.url,
            read_only=self.read_only,
            immutable=detected is not None and detected.immutable,
        )
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self._engine.execution_options(**{READONLY: True}), expire_on_commit=False
        )
        where = f"{self.url} ({self.read_only_reason})"
        self.migrated_from = upgrade(self._engine, read_only=self.read_only, where=where)
        try:
            with self._session(readonly=True) as s:
                missing_info = s.scalar(select(func.count(SchemaInfo.id))) == 0
            if missing_info and not self.read_only:
                with self._session() as s:
                    if s.scalar(select(func.count(SchemaInfo.id))) == 0:
                        s.add(SchemaInfo(version=SCHEMA_VERSION))
        except SQLAlchemyError as e:
            raise RegistryError(f"cannot open the registry database {self.url}: {e}") from e

    @property
    def read_only(self) -> bool:
        """True when this registry never writes (see ``read_only_reason``)."""
        return self.read_only_reason is not None

    @property
    def db_path(self) -> Path:
        return self.home / "registry.db"

    @property
    def artifacts_root(self) -> Path:
        return self.home / "artifacts"

    @property
    def runs_root(self) -> Path:
        return self.home / "runs"

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql`` (the SQLAlchemy dialect name)."""
        return self._engine.dialect.name

    def require_writable(self, action: str = "this") -> None:
        """Raise a clear :class:`RegistryError` when the registry is read-only."""
        if self.read_only:
            raise RegistryError(
                f"the registry in {self.home} is read-only ({self.read_only_reason}); {action} "
                "needs to write to it: make it writable, or work on a writable copy (cp -a)"
            )

    @contextmanager
    def _session(self, *, readonly: bool = False) -> Iterator[Session]:
        """One transaction; ``readonly`` ones never take SQLite's write lock."""
        if not readonly:
            self.require_writable("changing the registry")
        session = (self._read_sessions if readonly else self._sessions)()
        try:
            yield session
            session.commit()
        except OperationalError as e:
            session.rollback()
            raise RegistryError(f"registry database error ({self.url}): {e.orig}") from e
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """One transaction on the registry database, for modules that keep their own tables
        in it (the embedding cache): committed at the end, rolled back on an error;
        ``readonly`` ones never write (others refuse a read-only registry)."""
        with self._session(readonly=readonly) as s:
            yield s

    # ---- versions ---------------------------------------------------------------------
    def create_version(
        self,
        name: str,
        *,
        architecture: str,
        task: str,
        modality: str,
        config: dict[str, Any],
        source: str = "train",
        run_id: int | None = None,
        parent_id: int | None = None,
    ) -> VersionRecord:
        """Reserve the next version number of ``name`` (a draft until :meth:`finalize_version`).

        Safe under concurrent writers: SQLite serialises write transactions, PostgreSQL
        locks the model row; two processes creating the same new model retry once the
        first one's row exists.
        """
        if not is_valid_model_name(name):
            raise ConfigError(
                f"model name {name!r} is not allowed: use letters, digits, '_', '-' and '.', at "
                "most 100 characters, no '..' and no path separator"
            )
        artifact_dir = (self.artifacts_root / name).resolve()
        if not artifact_dir.is_relative_to(self.artifacts_root.resolve()):
            raise ConfigError(f"model name {name!r} would write outside {self.artifacts_root}")
        attempts = 0
        while True:
            try:
                with self._session() as s:
                    model = self._model_for_update(s, name, architecture, task, modality)
                    number = self._next_version(s, model.id)
                    now = db_now(s)
                    row = VersionRow(
                        uid=uuid.uuid4().hex[:12],
                        model_id=model.id,
                        version=number,
                        source=source,
                        run_id=run_id,
                        parent_id=parent_id,
                        config=config,
                        artifact_dir=f"{name}/v{number}",  # relative to the artifact root
                        lease_owner=lease_owner(),  # a draft: `gc` leaves it alone meanwhile
                        heartbeat_at=now,
                        lease_expires_at=now + timedelta(seconds=lease_seconds()),
                    )
                    s.add(row)
                    s.flush()
                    return version_record(s, row, self.artifacts_root)
            except IntegrityError as e:  # another writer created the model or the number
                attempts += 1
                if attempts == 5:
                    raise RegistryError(f"could not reserve a version of {name!r}: {e}") from e
                logger.debug("version reservation of %r raced another writer; retrying", name)

    @staticmethod
    def _model_for_update(
        s: Session, name: str, architecture: str, task: str, modality: str
    ) -> ModelRow:
        query = select(ModelRow).where(ModelRow.name == name).with_for_update()
        model = s.scalars(query).first()
        if model is None:
            model = ModelRow(name=name, architecture=architecture, task=task, modality=modality)
            s.add(model)
            s.flush()
        else:
            check_same_kind(name, (model.modality, model.task), task, modality)
        return model

    def check_kind(self, name: str, task: str | None) -> None:
        """Refuse a model of another kind (``task`` None: a classifier) before it trains."""
        with self._session(readonly=True) as s:
            model = s.scalars(select(ModelRow).where(ModelRow.name == name)).first()
            if model is not None:
                check_same_kind(name, (model.modality, model.task), task)

    @staticmethod
    def _next_version(s: Session, model_id: int) -> int:
        """One more than any number this model ever used (deleted versions included)."""
        live = s.scalar(select(func.max(VersionRow.version)).where(VersionRow.model_id == model_id))
        logged = s.scalar(select(func.max(EventRow.version)).where(EventRow.model_id == model_id))
        return max(live or 0, logged or 0) + 1

    def finalize_version(
        self,
        version_id: int,
        *,
        files: dict[str, tuple[Path, str]],
        params_count: int,
        metrics: dict[str, Any] | None = None,
        run_id: int | None = None,
    ) -> VersionRecord:
        """Record the artifact files (name -> (path, sha256)) and mark the version ready."""
        with self._session() as s:
            row = s.get(VersionRow, version_id)
            if row is None:
                raise ModelNotFoundError(f"version id {version_id} does not exist")
            total = 0
            for name, (path, sha) in files.items():
                size = path.stat().st_size
                total += size
                location = self._publish(row, name, path, sha)
                s.add(
                    ArtifactRow(
                        version_id=row.id, name=name, path=location, sha256=sha, size_bytes=size
                    )
                )
            row.params_count = params_count
            row.size_bytes = total
            row.metrics = dict(metrics or {})
            row.status = "ready"
            if run_id is not None:
                row.run_id = run_id
            record_event(s, row.model_id, row, row.source, stage_to=row.stage)
            s.flush()
            return version_record(s, row, self.artifacts_root)

    def add_artifact(self, version: VersionRecord, name: str, data: bytes) -> VersionRecord:
        """Store ``data`` as the artifact ``name`` of a ready version (an ONNX graph exported
        on first serve, a tokenizer file): written atomically into the version's folder and
        recorded with its sha256; an artifact of that name is replaced. Returns the version
        as the registry now records it."""
        if "/" in name or "\\" in name or name in {"", ".", ".."}:
            raise ConfigError(f"artifact name {name!r} is not a file name")
        self.require_writable(f"adding {name} to {version.ref}")
        with self._session() as s:
            row = s.get(VersionRow, version.id)
            if row is None or row.status != "ready":
                raise ModelNotFoundError(f"{version.ref} is not a ready version of the registry")
            path = self.artifacts_root / row.artifact_dir / name
            sha = atomic_write_bytes(path, data)
            location = self._publish(row, name, path, sha)
            old = s.scalars(
                select(ArtifactRow).where(
                    ArtifactRow.version_id == row.id, ArtifactRow.name == name
                )
            ).first()
            if old is None:
                old = ArtifactRow(version_id=row.id, name=name)
                s.add(old)
            else:
                row.size_bytes -= old.size_bytes
            old.path, old.sha256, old.size_bytes = location, sha, len(data)
            row.size_bytes += len(data)
            s.flush()
            return version_record(s, row, self.artifacts_root)

    def _publish(self, row: VersionRow, name: str, path: Path, sha: str) -> str:
        """A file written under ``artifact_dir`` -> the location the database records."""
        if self.artifact_store.is_local(self.artifacts_root):
            return store_location(path, self.artifacts_root)
        data = read_verified(path, sha, fix="it changed after it was written; not publishing it")
        model_dir = Path(row.artifact_dir).parent.name
        return self.artifact_store.put(f"{model_dir}/v{row.version}/{name}", data)

    def ensure_local(self, version: VersionRecord) -> VersionRecord:
        """The version with every artifact readable from a local path: artifacts kept in a
        remote store are fetched (hash-verified) into ``<home>/cache/<uid>``."""
        if all(a.path.is_file() for a in version.artifacts.values()):
            return version
        cache_root = self.home / "cache"
        if self.read_only:  # a read-only home: fetch into this machine's temporary folder
            user = os.getuid() if hasattr(os, "getuid") else "user"  # no getuid on Windows
            cache_root = Path(tempfile.gettempdir()) / f"neuroplast-cache-{user}"
        cache = cache_root / version.uid
        local = {}
        for name, artifact in version.artifacts.items():
            target = cache / name
            if not (target.is_file() and sha256_file(target) == artifact.sha256):
                data = self.artifact_store.get_verified(artifact.location, artifact.sha256)
                atomic_write_bytes(target, data)
            local[name] = replace(artifact, path=target)
        return replace(version, artifact_dir=cache, artifacts=local)

    def update_version_metrics(self, version_id: int, metrics: dict[str, Any]) -> None:
        with self._session() as s:
            row = s.get(VersionRow, version_id)
            if row is None:
                raise ModelNotFoundError(f"version id {version_id} does not exist")
            row.metrics = {**(row.metrics or {}), **metrics}

    def resolve(self, ref: str) -> VersionRecord:
        """``name``, ``name:N``, ``name@STAGE`` (newest version in that stage: candidate,
        production, archived) or a version uid -> the version.

        A bare ``name`` means what a user would serve: its production version when it has
        one, else its newest ready version. So a later ``compress``, ``export`` or
        ``continual update`` (new candidate versions) does not change what ``name`` means
        until one of them is promoted."""
        with self._session(readonly=True) as s:
            match = _REF_RE.match(ref)
            name, _, stage = (match.group("name") if match else ref).partition("@")
            query = (
                select(VersionRow)
                .join(ModelRow, VersionRow.model_id == ModelRow.id)
                .where(ModelRow.name == name, VersionRow.status == "ready")
            )
            if match:
                digits = match.group("version").lstrip("0")
                if len(digits) > len(str(_MAX_VERSION)) or int(digits or 0) > _MAX_VERSION:
                    raise ModelNotFoundError(
                        f"no model version matches {ref!r}: version numbers go up to "
                        f"{_MAX_VERSION}; list the versions with `neuroplast models versions "
                        f"{name}`"
                    )
                query = query.where(VersionRow.version == int(digits or 0))
            if stage:
                query = query.where(VersionRow.stage == stage)
            if not match and not stage:  # a bare name: production first, then the newest
                query = query.order_by(case((VersionRow.stage == "production", 0), else_=1))
            row = s.scalars(query.order_by(VersionRow.version.desc())).first()
            if row is None and not match:
                row = s.scalars(select(VersionRow).where(VersionRow.uid == ref)).first()
            if row is None:
                names = s.scalars(select(ModelRow.name).order_by(ModelRow.name)).all()
                known = ", ".join(names[:20]) or "none yet (train one with `neuroplast train`)"
                raise ModelNotFoundError(
                    f"no model version matches {ref!r} in {self.home}; models: {known}"
                )
            return version_record(s, row, self.artifacts_root)

    def versions(self, name: str) -> list[VersionRecord]:
        with self._session(readonly=True) as s:
            rows = s.scalars(
                select(VersionRow)
                .join(ModelRow, VersionRow.model_id == ModelRow.id)
                .where(ModelRow.name == name, VersionRow.status == "ready")
                .order_by(VersionRow.version)
            ).all()
            return [version_record(s, r, self.artifacts_root) for r in rows]

    def list_models(self) -> list[ModelSummary]:
        """Every model with its number of ready versions and its newest one (indexed
        lookups: the cost grows with the number of models, not of runs or versions)."""
        with self._session(readonly=True) as s:
            counts = dict(
                s.execute(
                    select(VersionRow.model_id, func.count(VersionRow.id))
                    .where(VersionRow.status == "ready")
                    .group_by(VersionRow.model_id)
                ).all()
            )
            out = []
            for model in s.scalars(select(ModelRow).order_by(ModelRow.name)).all():
                newest = s.scalars(
                    select(VersionRow)
                    .where(VersionRow.model_id == model.id, VersionRow.status == "ready")
                    .order_by(VersionRow.version.desc())
                    .limit(1)
                ).first()
                out.append(
                    ModelSummary(
                        model.name,
                        model.architecture,
                        model.task,
                        model.modality,
                        counts.get(model.id, 0),
                        None if newest is None else version_record(s, newest, self.artifacts_root),
                    )
                )
            return out
