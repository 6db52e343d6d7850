"""Self-contained model bundles: ``export`` a version to one tar file, ``import`` it elsewhere.

The tar holds ``manifest.json`` (model, version, lineage, metrics, config, and the sha256 of
every file) and the version's artifact files under ``files/``. Import checks every hash
before anything is written, reads members as bytes (no extraction, so no path in the tar
can reach outside the registry) and registers a new version with ``source=import``.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from neuroplast._version import ARTIFACT_SCHEMA_VERSION, __version__
from neuroplast.config import is_valid_model_name
from neuroplast.errors import ArtifactError
from neuroplast.registry.artifacts import atomic_write_bytes, sha256_bytes
from neuroplast.registry.lifecycle import lineage
from neuroplast.registry.records import VersionRecord
from neuroplast.registry.store import Registry

__all__ = ["export_version", "import_bundle"]

_FORMAT = "neuroplast-bundle"


def export_version(registry: Registry, ref: str, out: Path) -> Path:
    """Write version ``ref`` with its files, verified, to the tar file ``out`` (atomically)."""
    version = registry.ensure_local(registry.resolve(ref))
    files: dict[str, bytes] = {}
    for name, artifact in sorted(version.artifacts.items()):
        data = artifact.path.read_bytes() if artifact.path.is_file() else b""
        if sha256_bytes(data) != artifact.sha256:
            raise ArtifactError(
                f"{artifact.path} is missing or does not match its sha256; run "
                "`neuroplast registry verify` and re-train before exporting"
            )
        files[name] = data
    manifest: dict[str, Any] = {
        "format": _FORMAT,
        "schema_version": ARTIFACT_SCHEMA_VERSION,
        "neuroplast_version": __version__,
        "model": version.model_name,
        "version": version.version,
        "uid": version.uid,
        "architecture": version.architecture,
        "task": version.task,
        "modality": version.modality,
        "source": version.source,
        "stage": version.stage,
        "config": version.config,
        "metrics": version.metrics,
        "params_count": version.params_count,
        "lineage": [
            {"ref": v.ref, "uid": v.uid, "source": v.source, "created_at": v.created_at.isoformat()}
            for v in lineage(registry, version.ref)
        ],
        "files": {name: sha256_bytes(data) for name, data in files.items()},
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in [("manifest.json", json.dumps(manifest, indent=2).encode())] + [
            (f"files/{n}", d) for n, d in files.items()
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(version.created_at.timestamp())
            tar.addfile(info, io.BytesIO(data))
    atomic_write_bytes(out, buffer.getvalue())
    return out


def _read_members(path: Path) -> dict[str, bytes]:
    if not path.is_file():
        raise ArtifactError(f"bundle {path} not found")
    try:
        with tarfile.open(path, mode="r") as tar:
            out = {}
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    out[member.name] = handle.read()
            return out
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ArtifactError(f"{path} is not a readable neuroplast bundle (tar): {e}") from e


def import_bundle(registry: Registry, path: Path, *, name: str | None = None) -> VersionRecord:
    """Register the bundle at ``path`` as the next version of ``name`` (default: its model)."""
    members = _read_members(path)
    try:
        manifest = json.loads(members["manifest.json"])
    except (KeyError, ValueError) as e:
        raise ArtifactError(f"{path} has no valid manifest.json; is it a neuroplast bundle?") from e
    if manifest.get("format") != _FORMAT:
        raise ArtifactError(f"{path} is not a neuroplast bundle")
    if int(manifest.get("schema_version", 0)) > ARTIFACT_SCHEMA_VERSION:
        raise ArtifactError(f"{path} was made by a newer neuroplast; upgrade to import it")
    files: dict[str, bytes] = {}
    for file_name, sha in manifest["files"].items():
        parts = Path(file_name).parts
        if Path(file_name).is_absolute() or ".." in parts or not parts:
            raise ArtifactError(f"{path}: unsafe file name {file_name!r} in the manifest")
        data = members.get(f"files/{file_name}")
        if data is None or sha256_bytes(data) != sha:
            raise ArtifactError(
                f"{path}: {file_name} is missing or does not match its sha256; the bundle is "
                "damaged, nothing was imported"
            )
        files[file_name] = data
    target = name or str(manifest["model"])
    if not is_valid_model_name(target):
        raise ArtifactError(f"{path}: {target!r} is not a valid model name; pass --name")
    version = registry.create_version(
        target,
        architecture=manifest["architecture"],
        task=manifest["task"],
        modality=manifest["modality"],
        config=manifest.get("config", {}),
        source="import",
    )
    written = {}
    for file_name, data in files.items():
        dest = version.artifact_dir / file_name
        written[file_name] = (dest, atomic_write_bytes(dest, data))
    origin = f"{manifest['model']}:{manifest['version']} ({manifest.get('uid', '?')})"
    metrics = {
        **manifest.get("metrics", {}),
        "imported_from": origin,
        "imported_lineage": [v.get("ref") for v in manifest.get("lineage", [])],
    }
    return registry.finalize_version(
        version.id,
        files=written,
        params_count=int(manifest.get("params_count", 0)),
        metrics=metrics,
    )
