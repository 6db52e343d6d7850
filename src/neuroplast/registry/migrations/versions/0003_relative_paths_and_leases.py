"""Locations relative to the home (a home can be moved or copied), and leases on running
runs and draft versions (``registry gc`` leaves alone what a live process owns).

Before this revision the registry recorded absolute paths. A version's artifact root is
the folder it was written under, ``Path(artifact_dir).parents[1]`` (``<root>/<name>/vN``):
the version's folder, its artifacts and its evaluation plots under that root become
relative to it; a run's checkpoint folder ``<home>/runs/<uid>`` becomes ``runs/<uid>``.
Anything else (an fsspec URL, a path outside the root) stays as it is.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_LEASE_COLUMNS = ("lease_owner", "heartbeat_at", "lease_expires_at")


def _relative(value: str, root: PurePosixPath) -> str:
    if "://" in value or not value.startswith("/"):
        return value
    path = PurePosixPath(value)
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else value


def _absolute(value: str, root: PurePosixPath) -> str:
    if "://" in value or value.startswith("/") or not value:
        return value
    return (root / value).as_posix()


def _plots(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):  # some drivers hand JSON back as text
        raw = json.loads(raw)
    return dict(raw or {})


def _rewrite(convert: Any, artifact_root: Any, home: Any) -> None:
    """Apply ``convert(value, root)`` to every recorded location; ``artifact_root(row)`` and
    ``home(row)`` give the root of a version's and a run's locations (None: leave it)."""
    bind = op.get_bind()
    versions = sa.table("versions", sa.column("id", sa.Integer), sa.column("artifact_dir", sa.Text))
    artifacts = sa.table(
        "artifacts",
        sa.column("id", sa.Integer),
        sa.column("version_id", sa.Integer),
        sa.column("path", sa.Text),
    )
    evaluations = sa.table(
        "evaluations",
        sa.column("id", sa.Integer),
        sa.column("version_id", sa.Integer),
        sa.column("plots", sa.JSON),
    )
    runs = sa.table("runs", sa.column("id", sa.Integer), sa.column("checkpoint_dir", sa.Text))
    for version_id, artifact_dir in bind.execute(
        sa.select(versions.c.id, versions.c.artifact_dir)
    ).all():
        root = artifact_root(artifact_dir or "")
        if root is None:
            continue
        bind.execute(
            versions.update()
            .where(versions.c.id == version_id)
            .values(artifact_dir=convert(artifact_dir, root))
        )
        for artifact_id, path in bind.execute(
            sa.select(artifacts.c.id, artifacts.c.path).where(artifacts.c.version_id == version_id)
        ).all():
            new = convert(path, root)
            if new != path:
                bind.execute(
                    artifacts.update().where(artifacts.c.id == artifact_id).values(path=new)
                )
        for evaluation_id, raw in bind.execute(
            sa.select(evaluations.c.id, evaluations.c.plots).where(
                evaluations.c.version_id == version_id
            )
        ).all():
            plots = _plots(raw)
            new_plots = {k: convert(v, root) if isinstance(v, str) else v for k, v in plots.items()}
            if new_plots != plots:
                bind.execute(
                    evaluations.update()
                    .where(evaluations.c.id == evaluation_id)
                    .values(plots=new_plots)
                )
    for run_id, checkpoint_dir in bind.execute(sa.select(runs.c.id, runs.c.checkpoint_dir)).all():
        root = home(checkpoint_dir or "")
        if root is not None:
            bind.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(checkpoint_dir=convert(checkpoint_dir, root))
            )


def _version_root(artifact_dir: str) -> PurePosixPath | None:
    path = PurePosixPath(artifact_dir)
    return path.parents[1] if artifact_dir.startswith("/") and len(path.parts) > 3 else None


def _run_home(checkpoint_dir: str) -> PurePosixPath | None:
    path = PurePosixPath(checkpoint_dir)
    absolute = checkpoint_dir.startswith("/") and len(path.parts) > 3
    return path.parents[1] if absolute and path.parent.name == "runs" else None


def upgrade() -> None:
    for table in ("runs", "versions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("lease_owner", sa.String(200), nullable=True))
            batch.add_column(sa.Column("heartbeat_at", _TS, nullable=True))
            batch.add_column(sa.Column("lease_expires_at", _TS, nullable=True))
    _rewrite(_relative, _version_root, _run_home)
    op.execute("UPDATE schema_info SET version = 3")  # mirrors the revision for old readers


def downgrade() -> None:
    """Back to absolute paths under the registry home, which the caller passes as the
    ``home`` attribute of the Alembic config (the revision alone cannot know it)."""
    home = context.config.attributes.get("home")
    if home is None:
        raise RuntimeError("downgrading 0003 needs the registry home (config attribute 'home')")
    home_path = PurePosixPath(str(home))
    root = home_path / "artifacts"
    _rewrite(_absolute, lambda _dir: root, lambda _dir: home_path)
    op.execute("UPDATE schema_info SET version = 2")
    for table in ("runs", "versions"):
        for column in _LEASE_COLUMNS:  # SQLite >= 3.35 drops a column in place (a batch
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # copy breaks the FKs)
