"""Rows of the registry's tables turned into plain records."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from neuroplast.errors import RegistryError
from neuroplast.registry.records import ArtifactRecord, RunRecord, VersionRecord
from neuroplast.registry.schema import ArtifactRow, ModelRow, RunRow, VersionRow

__all__ = ["run_record", "version_record"]


def run_record(row: RunRow) -> RunRecord:
    return RunRecord(
        id=row.id,
        uid=row.uid,
        model_name=row.model_name,
        config=dict(row.config),
        config_hash=row.config_hash,
        status=row.status,
        device=row.device,
        precision=row.precision,
        checkpoint_dir=Path(row.checkpoint_dir),
        epochs_done=row.epochs_done,
        error=row.error,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def version_record(s: Session, row: VersionRow) -> VersionRecord:
    model = s.get(ModelRow, row.model_id)
    if model is None:
        raise RegistryError(f"version {row.id} points at a missing model row")
    artifacts = {
        a.name: ArtifactRecord(a.name, Path(a.path), a.sha256, a.size_bytes, a.path)
        for a in s.scalars(select(ArtifactRow).where(ArtifactRow.version_id == row.id)).all()
    }
    return VersionRecord(
        id=row.id,
        uid=row.uid,
        model_name=model.name,
        version=row.version,
        architecture=model.architecture,
        task=model.task,
        modality=model.modality,
        status=row.status,
        stage=row.stage,
        source=row.source,
        run_id=row.run_id,
        config=dict(row.config or {}),
        params_count=row.params_count,
        size_bytes=row.size_bytes,
        metrics=dict(row.metrics or {}),
        artifact_dir=Path(row.artifact_dir),
        created_at=row.created_at,
        artifacts=artifacts,
        parent_id=row.parent_id,
        parent=_parent_ref(s, row.parent_id),
    )


def _parent_ref(s: Session, parent_id: int | None) -> str | None:
    if parent_id is None:
        return None
    found = s.execute(
        select(ModelRow.name, VersionRow.version)
        .join(VersionRow, VersionRow.model_id == ModelRow.id)
        .where(VersionRow.id == parent_id)
    ).first()
    return None if found is None else f"{found[0]}:{found[1]}"
