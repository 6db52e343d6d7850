"""The embedded registry: models, versions, runs, metrics, evaluations and artifact files."""

from neuroplast.registry.artifacts import (
    atomic_write_bytes,
    atomic_write_json,
    read_json_verified,
    read_safetensors_verified,
    save_safetensors,
    sha256_file,
)
from neuroplast.registry.lifecycle import STAGES, Event, history, lineage, promote, rollback
from neuroplast.registry.records import (
    ArtifactRecord,
    EvaluationRecord,
    ModelSummary,
    RunRecord,
    VersionRecord,
)
from neuroplast.registry.store import Registry, config_hash, default_home

__all__ = [
    "STAGES",
    "ArtifactRecord",
    "EvaluationRecord",
    "Event",
    "ModelSummary",
    "Registry",
    "RunRecord",
    "VersionRecord",
    "atomic_write_bytes",
    "atomic_write_json",
    "config_hash",
    "default_home",
    "history",
    "lineage",
    "promote",
    "read_json_verified",
    "read_safetensors_verified",
    "rollback",
    "save_safetensors",
    "sha256_file",
]
