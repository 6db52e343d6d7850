"""The closed loop and pretrained encoders: numbers on audit events, stored drift checks,
and the embedding cache.

``events.details`` holds a decision's numbers as JSON (a gate's accuracies, an A/B test's
counts); ``drift_checks`` one row per drift test of a model's traffic (its report as
JSON); ``embeddings`` the cached vector of one input under one encoder (weights included
in the encoder id), with when it was last used for least-recently-used eviction, and
``embedding_stats`` each encoder's hit and miss counters.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("details", sa.JSON, nullable=True))
    op.create_table(
        "drift_checks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "model_id",
            sa.Integer,
            sa.ForeignKey("models.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("reference", sa.String(20), nullable=False),
        sa.Column("window", sa.Integer, nullable=False),
        sa.Column("alpha", sa.Float, nullable=False),
        sa.Column("windows", sa.Integer, nullable=False),
        sa.Column("alarms", sa.Integer, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
    )
    op.create_index("ix_drift_checks_model_at", "drift_checks", ["model_id", "at"])
    op.create_table(
        "embeddings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("encoder", sa.String(200), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("dtype", sa.String(8), nullable=False),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.Column("used_at", _TS, nullable=False),
        sa.UniqueConstraint("encoder", "key", name="uq_embeddings_encoder_key"),
    )
    op.create_index("ix_embeddings_used_at", "embeddings", ["used_at"])
    op.create_table(
        "embedding_stats",
        sa.Column("encoder", sa.String(200), primary_key=True),
        sa.Column("hits", sa.BigInteger, nullable=False),
        sa.Column("misses", sa.BigInteger, nullable=False),
    )
    op.execute("UPDATE schema_info SET version = 5")  # mirrors the revision for old readers


def downgrade() -> None:
    op.drop_table("embedding_stats")
    op.drop_index("ix_embeddings_used_at", "embeddings")
    op.drop_table("embeddings")
    op.drop_index("ix_drift_checks_model_at", "drift_checks")
    op.drop_table("drift_checks")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("details")
    op.execute("UPDATE schema_info SET version = 4")
