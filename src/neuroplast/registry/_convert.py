"""Rows of the registry's tables turned into plain records, with every recorded location
resolved (``_paths``): records hold absolute paths (or URLs), the database relative ones."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from neuroplast.errors import RegistryError
from neuroplast.registry._paths import resolve_location
from neuroplast.registry.records import ArtifactRecord, RunRecord, VersionRecord
from neuroplast.registry.schema import ArtifactRow, ModelRow, RunRow, VersionRow

__all__ = ["artifact_record", "run_record", "version_record"]


def run_record(row: RunRow, home: Path) -> RunRecord:
    """``home``: the registry's home (checkpoint folders are recorded relative to it)."""
    return RunRecord(
        id=row.id,
        uid=row.uid,
        model_name=row.model_name,
        config=dict(row.config),
        config_hash=row.config_hash,
        status=row.status,
        device=row.device,
        precision=row.precision,
        checkpoint_dir=Path(resolve_location(row.checkpoint_dir, home)),
        epochs_done=row.epochs_done,
        error=row.error,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def artifact_record(row: ArtifactRow, root: Path) -> ArtifactRecord:
    """``location`` is the absolute path or the URL; ``path`` the local path (for a URL, a
    placeholder that is never a file: :meth:`Registry.ensure_local` fetches it)."""
    location = resolve_location(row.path, root)
    return ArtifactRecord(row.name, Path(location), row.sha256, row.size_bytes, location)


def version_record(s: Session, row: VersionRow, root: Path) -> VersionRecord:
    """``root``: the registry's artifact root (local locations are relative to it)."""
    model = s.get(ModelRow, row.model_id)
    if model is None:
        raise RegistryError(f"version {row.id} points at a missing model row")
    artifacts = {
        a.name: artifact_record(a, root)
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
        artifact_dir=Path(resolve_location(row.artifact_dir, root)),
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
