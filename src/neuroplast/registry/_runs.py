"""The runs half of the registry: training runs, their per-epoch metrics, their leases
(see ``_leases``) and resume."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import uuid
from abc import abstractmethod
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from neuroplast.errors import ModelNotFoundError, RegistryError
from neuroplast.registry._convert import run_record
from neuroplast.registry._leases import Heartbeat, Lease, db_now, lease_owner, lease_seconds
from neuroplast.registry._paths import store_location
from neuroplast.registry.records import RunRecord
from neuroplast.registry.schema import EpochMetricRow, RunRow, VersionRow, utcnow
from neuroplast.types import ModelMetrics

__all__ = ["RunsMixin", "config_hash", "run_lease"]

logger = logging.getLogger(__name__)


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def run_lease(row: RunRow) -> Lease:
    return Lease(row.lease_owner, row.heartbeat_at, row.lease_expires_at, row.started_at)


def _renew(s: Session, row: RunRow, seconds: float | None = None) -> None:
    now = db_now(s)
    row.lease_owner = lease_owner()
    row.heartbeat_at = now
    row.lease_expires_at = now + timedelta(seconds=lease_seconds() if seconds is None else seconds)


class RunsMixin:
    """Run bookkeeping; :class:`~neuroplast.registry.store.Registry` supplies the session."""

    url: str
    home: Path

    @property
    @abstractmethod
    def runs_root(self) -> Path: ...

    @abstractmethod
    def _session(self, *, readonly: bool = False) -> AbstractContextManager[Session]: ...

    def start_run(self, model_name: str, config: dict[str, Any]) -> RunRecord:
        """A new ``running`` run, holding a lease (keep it alive with :meth:`heartbeat`)."""
        uid = uuid.uuid4().hex[:12]
        with self._session() as s:
            row = RunRow(
                uid=uid,
                model_name=model_name,
                config=config,
                config_hash=config_hash(config),
                checkpoint_dir=store_location(self.runs_root / uid, self.home),
            )
            _renew(s, row)
            s.add(row)
            s.flush()
            return run_record(row, self.home)

    def heartbeat(self, run_id: int) -> Heartbeat:
        """``with registry.heartbeat(run.id):`` keeps the run's lease (and so its draft
        versions) alive while the block runs, so that ``registry gc`` leaves them alone."""
        return Heartbeat(self, run_id)

    def renew_run_lease(self, run_id: int, *, seconds: float | None = None) -> bool:
        """Renew the run's lease; False when the run is no longer marked running."""
        with self._session() as s:
            row = s.get(RunRow, run_id)
            if row is None:
                raise RegistryError(f"run {run_id} does not exist")
            _renew(s, row, seconds)
            return row.status == "running"

    def claim_run(self, run_id: int) -> str | None:
        """Take over a run that stopped (to resume it): mark it running under this process's
        lease. Returns None when claimed, or how the run is still alive when its lease is
        live (another process is running it; nothing changes then)."""
        with self._session() as s:
            row = s.scalars(select(RunRow).where(RunRow.id == run_id).with_for_update()).first()
            if row is None:
                raise ModelNotFoundError(f"run {run_id} does not exist in {self.url}")
            now = db_now(s)
            lease = run_lease(row)
            if row.status == "running" and lease.live(now):
                return lease.describe(now)
            row.status, row.error, row.finished_at = "running", None, None
            _renew(s, row)
            return None

    def update_run(self, run_id: int, **fields: Any) -> None:
        with self._session() as s:
            row = s.get(RunRow, run_id)
            if row is None:
                raise RegistryError(f"run {run_id} does not exist")
            for key, value in fields.items():
                setattr(row, key, value)
            if fields.get("status") in {"completed", "failed"}:
                row.finished_at = utcnow()

    def complete_run(self, run_id: int) -> None:
        """Mark a run completed and delete its resumable checkpoints (the version keeps the
        weights; a completed run is never resumed)."""
        run = self.get_run(run_id)
        self.update_run(run_id, status="completed")
        if run.checkpoint_dir.is_dir():
            try:
                shutil.rmtree(run.checkpoint_dir)
            except OSError as e:
                logger.warning("could not delete the checkpoints in %s: %s", run.checkpoint_dir, e)

    def get_run(self, run_id: int) -> RunRecord:
        with self._session(readonly=True) as s:
            row = s.get(RunRow, run_id)
            if row is None:
                raise ModelNotFoundError(f"run {run_id} does not exist in {self.url}")
            return run_record(row, self.home)

    def latest_interrupted_run(self, config: dict[str, Any]) -> RunRecord | None:
        """The newest run of exactly this config that did not complete, if any (a run that
        registered its version but was killed before it was marked completed is not)."""
        registered = exists().where(VersionRow.run_id == RunRow.id, VersionRow.status == "ready")
        with self._session(readonly=True) as s:
            row = s.scalars(
                select(RunRow)
                .where(
                    RunRow.config_hash == config_hash(config),
                    RunRow.status != "completed",
                    ~registered,
                )
                .order_by(RunRow.id.desc())
            ).first()
            return None if row is None else run_record(row, self.home)

    def log_epoch(self, run_id: int, metrics: ModelMetrics) -> None:
        with self._session() as s:
            s.add(
                EpochMetricRow(
                    run_id=run_id,
                    epoch=metrics.epoch,
                    train_loss=metrics.train_loss,
                    val_loss=metrics.val_loss,
                    val_accuracy=metrics.val_accuracy,
                    learning_rate=metrics.learning_rate,
                    samples_per_sec=metrics.samples_per_sec,
                    seconds=metrics.seconds,
                    extra=dict(metrics.extra),
                )
            )
            run = s.get(RunRow, run_id)
            if run is not None:
                run.epochs_done = max(run.epochs_done, metrics.epoch)
                _renew(s, run)  # every epoch is a heartbeat too

    def epoch_metrics(self, run_id: int) -> list[ModelMetrics]:
        with self._session(readonly=True) as s:
            rows = s.scalars(
                select(EpochMetricRow)
                .where(EpochMetricRow.run_id == run_id)
                .order_by(EpochMetricRow.epoch, EpochMetricRow.id)
            ).all()
            latest: dict[int, ModelMetrics] = {}
            for r in rows:  # a resumed run may log an epoch twice: keep the last
                latest[r.epoch] = ModelMetrics(
                    epoch=r.epoch,
                    train_loss=r.train_loss,
                    val_loss=r.val_loss,
                    val_accuracy=r.val_accuracy,
                    learning_rate=r.learning_rate,
                    samples_per_sec=r.samples_per_sec,
                    seconds=r.seconds,
                    extra=dict(r.extra or {}),
                )
            return [latest[e] for e in sorted(latest)]
