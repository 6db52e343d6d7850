"""Audit trail (events), and indexes for the lookups that must stay fast at 10k+ runs.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("events"):  # databases made before migrations may have it
        _create_events()
    for table, name, columns in _INDEXES:
        if name not in {ix["name"] for ix in inspector.get_indexes(table)}:
            op.create_index(name, table, columns)
    # Versions made before the audit trail existed get a creation event, so that history
    # and version numbering (which never reuses a number) see them.
    op.execute(
        "INSERT INTO events (model_id, version_id, version, action, stage_from, stage_to, "
        'reason, "user", at) SELECT v.model_id, v.id, v.version, v.source, NULL, v.stage, '
        "'recorded before the audit trail existed', '', v.created_at FROM versions v "
        "WHERE v.status = 'ready' AND NOT EXISTS "
        "(SELECT 1 FROM events e WHERE e.version_id = v.id)"
    )
    op.execute("UPDATE schema_info SET version = 2")  # mirrors the revision for old readers


_INDEXES = [
    ("events", "ix_events_model_id", ["model_id"]),
    ("events", "ix_events_version_id", ["version_id"]),
    ("versions", "ix_versions_model_status", ["model_id", "status", "version"]),
    ("versions", "ix_versions_parent_id", ["parent_id"]),
    ("runs", "ix_runs_config_status", ["config_hash", "status"]),
    ("epoch_metrics", "ix_epoch_metrics_run_epoch", ["run_id", "epoch"]),
]


def _create_events() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column(
            "version_id",
            sa.Integer,
            sa.ForeignKey("versions.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("stage_from", sa.String(20), nullable=True),
        sa.Column("stage_to", sa.String(20), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("user", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table, name, _ in _INDEXES[2:]:
        op.drop_index(name, table)
    op.drop_table("events")
