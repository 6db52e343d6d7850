"""Serving: the prediction log, feedback on it, and the routing of each model's traffic
(A/B split, sticky key, shadow versions).

The log records a version by its number, not by a foreign key, so deleting a version
keeps what it answered. Feedback joins the log by (request id, item).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def _model() -> sa.ForeignKey:
    return sa.ForeignKey("models.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("item", sa.Integer, nullable=False),
        sa.Column("model_id", sa.Integer, _model(), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("arm", sa.String(10), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("input_text", sa.Text, nullable=True),
        sa.Column("input_sha256", sa.String(64), nullable=True),
        sa.Column("thumbnail", sa.Text, nullable=True),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("top_k", sa.JSON, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
    )
    op.create_index("ix_predictions_model_at", "predictions", ["model_id", "at"])
    op.create_index("ix_predictions_request", "predictions", ["request_id", "item"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("item", sa.Integer, nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.UniqueConstraint("request_id", "item", name="uq_feedback_request_item"),
    )
    op.create_table(
        "routing",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, _model(), nullable=False, unique=True),
        sa.Column("split", sa.JSON, nullable=False),
        sa.Column("sticky_key", sa.String(100), nullable=True),
        sa.Column("shadows", sa.JSON, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("started_at", _TS, nullable=True),
        sa.Column("stopped_at", _TS, nullable=True),
    )
    op.execute("UPDATE schema_info SET version = 4")  # mirrors the revision for old readers


def downgrade() -> None:
    op.drop_table("routing")
    op.drop_table("feedback")
    op.drop_index("ix_predictions_request", "predictions")
    op.drop_index("ix_predictions_model_at", "predictions")
    op.drop_table("predictions")
    op.execute("UPDATE schema_info SET version = 3")
