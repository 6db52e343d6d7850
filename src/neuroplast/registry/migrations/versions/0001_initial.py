"""The first registry schema: models, runs, versions, epoch metrics, evaluations, artifacts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "schema_info",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("architecture", sa.String(50), nullable=False),
        sa.Column("task", sa.String(50), nullable=False),
        sa.Column("modality", sa.String(10), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_models_name", "models", ["name"], unique=True)
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("device", sa.String(30), nullable=False),
        sa.Column("precision", sa.String(20), nullable=False),
        sa.Column("checkpoint_dir", sa.Text, nullable=False),
        sa.Column("epochs_done", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
    )
    op.create_index("ix_runs_uid", "runs", ["uid"], unique=True)
    op.create_index("ix_runs_model_name", "runs", ["model_name"])
    op.create_index("ix_runs_config_hash", "runs", ["config_hash"])
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("versions.id"), nullable=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("params_count", sa.Integer, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("artifact_dir", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("model_id", "version", name="uq_model_version"),
    )
    op.create_index("ix_versions_uid", "versions", ["uid"], unique=True)
    op.create_index("ix_versions_model_id", "versions", ["model_id"])
    op.create_table(
        "epoch_metrics",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("train_loss", sa.Float, nullable=False),
        sa.Column("val_loss", sa.Float, nullable=True),
        sa.Column("val_accuracy", sa.Float, nullable=True),
        sa.Column("learning_rate", sa.Float, nullable=True),
        sa.Column("samples_per_sec", sa.Float, nullable=True),
        sa.Column("seconds", sa.Float, nullable=True),
        sa.Column("extra", sa.JSON, nullable=False),
    )
    op.create_index("ix_epoch_metrics_run_id", "epoch_metrics", ["run_id"])
    op.create_table(
        "evaluations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id"), nullable=False),
        sa.Column("split", sa.String(50), nullable=False),
        sa.Column("data_source", sa.Text, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("baseline", sa.JSON, nullable=True),
        sa.Column("plots", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_evaluations_version_id", "evaluations", ["version_id"])
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.UniqueConstraint("version_id", "name", name="uq_version_artifact"),
    )
    op.create_index("ix_artifacts_version_id", "artifacts", ["version_id"])


def downgrade() -> None:
    for table in ("artifacts", "evaluations", "epoch_metrics", "versions", "runs", "models"):
        op.drop_table(table)
    op.drop_table("schema_info")
