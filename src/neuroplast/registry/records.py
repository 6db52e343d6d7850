"""Plain records the store returns (detached from any database session)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["ArtifactRecord", "EvaluationRecord", "ModelSummary", "RunRecord", "VersionRecord"]


@dataclass(frozen=True)
class ArtifactRecord:
    """``path`` is where the bytes are on this machine (a local store, or the cache after
    :meth:`Registry.ensure_local`); ``location`` is what the registry records (a path or
    a URL of the artifact store)."""

    name: str
    path: Path
    sha256: str
    size_bytes: int
    location: str = ""


@dataclass(frozen=True)
class VersionRecord:
    id: int
    uid: str
    model_name: str
    version: int
    architecture: str
    task: str
    modality: str
    status: str
    stage: str
    source: str
    run_id: int | None
    config: dict[str, Any]
    params_count: int
    size_bytes: int
    metrics: dict[str, Any]
    artifact_dir: Path
    created_at: datetime
    artifacts: dict[str, ArtifactRecord] = field(default_factory=dict)
    parent_id: int | None = None
    parent: str | None = None  # the parent's ref (``name:version``), when it still exists

    @property
    def ref(self) -> str:
        """The id users type: ``name:version``."""
        return f"{self.model_name}:{self.version}"

    def summary(self) -> dict[str, Any]:
        """What the CLI's ``--json`` prints for a version: a stable, JSON-ready shape."""
        return {
            "ref": self.ref,
            "uid": self.uid,
            "name": self.model_name,
            "version": self.version,
            "architecture": self.architecture,
            "task": self.task,
            "modality": self.modality,
            "stage": self.stage,
            "source": self.source,
            "parent": self.parent,
            "parameters": self.params_count,
            "size_bytes": self.size_bytes,
            "metrics": self.metrics,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class RunRecord:
    id: int
    uid: str
    model_name: str
    config: dict[str, Any]
    config_hash: str
    status: str
    device: str
    precision: str
    checkpoint_dir: Path
    epochs_done: int
    error: str | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class EvaluationRecord:
    id: int
    version_ref: str
    split: str
    data_source: str
    metrics: dict[str, Any]
    baseline: dict[str, Any] | None
    plots: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class ModelSummary:
    name: str
    architecture: str
    task: str
    modality: str
    versions: int
    latest: VersionRecord | None
