"""The embedded registry: models, versions, runs, metrics, evaluations and artifact files.

Names are imported on first use (see :mod:`neuroplast._lazy`): ``Registry`` brings in the
database layer (SQLAlchemy), while :mod:`neuroplast.registry.artifacts` (hashing, atomic
writes, verified reads) and :mod:`neuroplast.registry.records` load without it, so the
torch-free ONNX serving path can verify what it reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast._lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from neuroplast.registry.artifacts import (
        atomic_write_bytes,
        atomic_write_json,
        read_json_verified,
        read_safetensors_verified,
        save_safetensors,
        sha256_file,
    )
    from neuroplast.registry.lifecycle import (
        STAGES,
        Event,
        add_event,
        history,
        lineage,
        promote,
        rollback,
    )
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
    "add_event",
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

_ARTIFACTS = "neuroplast.registry.artifacts"
_LIFECYCLE = "neuroplast.registry.lifecycle"
_RECORDS = "neuroplast.registry.records"
_STORE = "neuroplast.registry.store"
_HOMES = {
    "atomic_write_bytes": _ARTIFACTS,
    "atomic_write_json": _ARTIFACTS,
    "read_json_verified": _ARTIFACTS,
    "read_safetensors_verified": _ARTIFACTS,
    "save_safetensors": _ARTIFACTS,
    "sha256_file": _ARTIFACTS,
    "STAGES": _LIFECYCLE,
    "Event": _LIFECYCLE,
    "add_event": _LIFECYCLE,
    "history": _LIFECYCLE,
    "lineage": _LIFECYCLE,
    "promote": _LIFECYCLE,
    "rollback": _LIFECYCLE,
    "ArtifactRecord": _RECORDS,
    "EvaluationRecord": _RECORDS,
    "ModelSummary": _RECORDS,
    "RunRecord": _RECORDS,
    "VersionRecord": _RECORDS,
    "Registry": _STORE,
    "config_hash": _STORE,
    "default_home": _STORE,
}

__getattr__, __dir__ = _lazy_exports(__name__, _HOMES, __all__)
