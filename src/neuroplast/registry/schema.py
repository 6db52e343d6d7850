"""SQLAlchemy tables of the registry: models, versions, runs, epoch metrics, evaluations,
artifacts, events, and the serving side: predictions, feedback, routing.

The database schema itself is made and upgraded by the Alembic migrations in
``registry/migrations``; a test checks that these classes and the migrations agree.
File locations are recorded relative to the home (see ``_paths``), so a home can be moved
or copied.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 5  # the Alembic revision is the authority; this mirrors it


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class SchemaInfo(Base):
    __tablename__ = "schema_info"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelRow(Base):
    __tablename__ = "models"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    architecture: Mapped[str] = mapped_column(String(50))
    task: Mapped[str] = mapped_column(String(50))
    modality: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RunRow(Base):
    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_config_status", "config_hash", "status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    model_name: Mapped[str] = mapped_column(String(100), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    config_hash: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20), default="running")
    device: Mapped[str] = mapped_column(String(30), default="")
    precision: Mapped[str] = mapped_column(String(20), default="")
    checkpoint_dir: Mapped[str] = mapped_column(Text, default="")  # relative to the home
    epochs_done: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the lease of a running run (see registry/_leases.py): renewed while its process lives
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class VersionRow(Base):
    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version", name="uq_model_version"),
        Index("ix_versions_model_status", "model_id", "status", "version"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    stage: Mapped[str] = mapped_column(String(20), default="candidate")
    source: Mapped[str] = mapped_column(String(20), default="train")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("versions.id"), nullable=True, index=True
    )
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"), nullable=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    params_count: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    artifact_dir: Mapped[str] = mapped_column(Text, default="")  # relative to the artifact root
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # the lease of a draft (a registration in progress); its run's lease also keeps it alive
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class EpochMetricRow(Base):
    __tablename__ = "epoch_metrics"
    __table_args__ = (Index("ix_epoch_metrics_run_epoch", "run_id", "epoch"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    epoch: Mapped[int] = mapped_column(Integer)
    train_loss: Mapped[float] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float, nullable=True)
    val_accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)
    learning_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    samples_per_sec: Mapped[float | None] = mapped_column(Float, nullable=True)
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class EvaluationRow(Base):
    __tablename__ = "evaluations"
    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    split: Mapped[str] = mapped_column(String(50))
    data_source: Mapped[str] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    baseline: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    plots: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # like artifacts.path
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("version_id", "name", name="uq_version_artifact"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # relative to the artifact root (a local store), or the full URL (an fsspec store)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)


class EventRow(Base):
    """The audit trail: who did what to which version, when and why."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    version_id: Mapped[int | None] = mapped_column(
        ForeignKey("versions.id", ondelete="SET NULL"), nullable=True, index=True
    )
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(30))
    stage_from: Mapped[str | None] = mapped_column(String(20), nullable=True)
    stage_to: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    user: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # the numbers


#: Prediction ids grow with every answered input (a busy server passes 2**31 in weeks);
#: SQLite's auto-increment needs its INTEGER PRIMARY KEY.
PREDICTION_ID = BigInteger().with_variant(Integer(), "sqlite")


class PredictionRow(Base):
    """One input of an answered request: what went in, what came out, which version said it.

    ``version`` is the version number, not a foreign key: the log outlives a deleted
    version. ``arm`` is ``production``, ``ab`` or ``shadow`` (a shadow's answer was never
    returned).
    """

    __tablename__ = "predictions"
    __table_args__ = (
        Index("ix_predictions_model_at", "model_id", "at"),
        Index("ix_predictions_request", "request_id", "item"),
    )
    id: Mapped[int] = mapped_column(PREDICTION_ID, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64))
    item: Mapped[int] = mapped_column(Integer)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    arm: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    input_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    input_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    thumbnail: Mapped[str | None] = mapped_column(Text, nullable=True)  # a PNG data URL
    label: Mapped[str] = mapped_column(String(200))
    probability: Mapped[float] = mapped_column(Float)
    top_k: Mapped[list[Any]] = mapped_column(JSON)
    latency_ms: Mapped[float] = mapped_column(Float)


class FeedbackRow(Base):
    """The true label of one input of a request, joined to the log by (request_id, item)."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("request_id", "item", name="uq_feedback_request_item"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64))
    item: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RoutingRow(Base):
    """How a model's traffic is routed: an A/B split between versions (``split``: version
    number as text -> weight), the request field that keeps a user on one version, and the
    shadow versions that get a copy. ``revision`` grows with every change, so a server
    notices one by comparing a number."""

    __tablename__ = "routing"
    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), unique=True)
    split: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sticky_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    shadows: Mapped[list[Any]] = mapped_column(JSON, default=list)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=False)  # an A/B split is on
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DriftCheckRow(Base):
    """One drift test of a model's logged traffic: what it compared and its report (JSON:
    every window's tests)."""

    __tablename__ = "drift_checks"
    __table_args__ = (Index("ix_drift_checks_model_at", "model_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reference: Mapped[str] = mapped_column(String(20))
    window: Mapped[int] = mapped_column(Integer)
    alpha: Mapped[float] = mapped_column(Float)
    windows: Mapped[int] = mapped_column(Integer)
    alarms: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)


class EmbeddingRow(Base):
    """The cached vector of one input under one encoder. ``encoder`` names the weights too
    (their sha256), ``key`` is the sha256 of the normalised input, ``vector`` the raw bytes
    of ``dim`` numbers of ``dtype`` (float16 or float32); ``used_at`` orders eviction."""

    __tablename__ = "embeddings"
    __table_args__ = (
        UniqueConstraint("encoder", "key", name="uq_embeddings_encoder_key"),
        Index("ix_embeddings_used_at", "used_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    encoder: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(64))
    dtype: Mapped[str] = mapped_column(String(8))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    used_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EmbeddingStatsRow(Base):
    """Hit and miss counters of the embedding cache, per encoder."""

    __tablename__ = "embedding_stats"
    encoder: Mapped[str] = mapped_column(String(200), primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger, default=0)
    misses: Mapped[int] = mapped_column(BigInteger, default=0)
