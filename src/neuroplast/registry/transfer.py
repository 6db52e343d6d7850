"""Self-contained model bundles: ``export`` a version to one tar file, ``import`` it elsewhere.

The tar holds ``manifest.json`` (model, version, lineage, metrics, config, and the sha256
and size of every file) and then the version's artifact files under ``files/``. Export
streams each file into the tar, checking it against its recorded hash.

Import trusts nothing in the bundle. It reads the tar once, as a stream, with bounded
memory and a bounded total size (``_bundle``: ``$NEUROPLAST_IMPORT_MAX_BYTES``, default
4 GiB); validates the whole manifest before reading any file; copies each listed file,
hash- and size-checked, to a staging folder (``<home>/artifacts/.import-*.tmp``, removed
afterwards; ``registry gc`` collects what a killed import leaves); checks that the model,
its config and its weights agree (``_bundle_model``); and only then registers a new
version with ``source=import``, moving the staged files into place. A refused bundle
leaves the registry as it was: no version, no draft, no file.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from neuroplast._output_paths import check_output_file
from neuroplast._version import ARTIFACT_SCHEMA_VERSION, __version__
from neuroplast.config import is_valid_model_name
from neuroplast.errors import ArtifactError
from neuroplast.registry._bundle import (
    DEFAULT_MAX_BYTES,
    MAX_BYTES_ENV,
    StagedFile,
    import_limit,
    open_bundle,
)
from neuroplast.registry._manifest import FORMAT, Manifest
from neuroplast.registry.artifacts import _fsync_dir, set_open_mode
from neuroplast.registry.lifecycle import lineage
from neuroplast.registry.records import ArtifactRecord, VersionRecord
from neuroplast.registry.store import Registry

__all__ = ["DEFAULT_MAX_BYTES", "MAX_BYTES_ENV", "export_version", "import_bundle"]

logger = logging.getLogger(__name__)


class _HashingReader:
    """A file opened for reading that hashes what is read from it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self.digest.update(data)
        return data


def _tar_info(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    return info


def _damaged(path: Path) -> ArtifactError:
    return ArtifactError(
        f"{path} is missing or does not match its sha256; run `neuroplast registry verify` "
        "and re-train before exporting"
    )


def _file_sizes(artifacts: list[tuple[str, ArtifactRecord]]) -> dict[str, int]:
    """Each file's size; a missing file is a damaged version."""
    sizes = {}
    for name, artifact in artifacts:
        if not artifact.path.is_file():
            raise _damaged(artifact.path)
        sizes[name] = artifact.path.stat().st_size
    return sizes


def _manifest(
    registry: Registry,
    version: VersionRecord,
    artifacts: list[tuple[str, ArtifactRecord]],
    sizes: dict[str, int],
) -> dict[str, Any]:
    """``manifest.json``: the version's record, its lineage and its files' hashes and sizes."""
    return {
        "format": FORMAT,
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
        "files": {name: artifact.sha256 for name, artifact in artifacts},
        "sizes": sizes,
    }


def _add_verified(
    tar: tarfile.TarFile, arcname: str, artifact: ArtifactRecord, size: int, mtime: int
) -> None:
    """Stream one file into ``tar``, checking its sha256 as it goes."""
    with artifact.path.open("rb") as source:
        reader = _HashingReader(source)
        try:
            tar.addfile(_tar_info(arcname, size, mtime), reader)
        except OSError as e:  # the file shrank while it was copied
            raise _damaged(artifact.path) from e
    if reader.digest.hexdigest() != artifact.sha256:
        raise _damaged(artifact.path)


def export_version(registry: Registry, ref: str, out: Path, *, force: bool = True) -> Path:
    """Write version ``ref`` with its files, verified, to the tar file ``out`` (atomically;
    the files are streamed, never held in memory). An existing ``out`` is replaced unless
    ``force`` is false (the CLI's default); a symlink is written through, not replaced. A
    directory, device, FIFO or socket (or a symlink to one, or to nothing) is refused even
    with ``force``, before any work (see :func:`~neuroplast._output_paths.check_output_file`)."""
    target = check_output_file(Path(out), force=force)
    version = registry.ensure_local(registry.resolve(ref))
    artifacts = sorted(version.artifacts.items())
    sizes = _file_sizes(artifacts)
    manifest = _manifest(registry, version, artifacts, sizes)
    mtime = int(version.created_at.timestamp())
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as e:
        raise ArtifactError(f"cannot write {out}: {e}") from e
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            set_open_mode(handle.fileno())  # a file to hand over, not a private temporary
            with tarfile.open(fileobj=handle, mode="w") as tar:
                data = json.dumps(manifest, indent=2).encode()
                tar.addfile(_tar_info("manifest.json", len(data), mtime), io.BytesIO(data))
                for name, artifact in artifacts:
                    _add_verified(tar, f"files/{name}", artifact, sizes[name], mtime)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ArtifactError(f"cannot write {out}: {e}") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return out


def import_bundle(
    registry: Registry, path: Path, *, name: str | None = None, max_bytes: int | None = None
) -> VersionRecord:
    """Register the bundle at ``path`` as the next version of ``name`` (default: its model).

    Everything is checked before the registry is touched: the manifest, every file's size
    and sha256, and that the model, its config and its weights agree. ``max_bytes`` bounds
    the files together (default ``$NEUROPLAST_IMPORT_MAX_BYTES``, else 4 GiB). A refused
    bundle raises :class:`~neuroplast.errors.ArtifactError` and leaves the registry as it was.
    """
    from neuroplast.registry._bundle_model import check_model

    limit = import_limit(max_bytes)
    if name is not None:
        _check_name(path, name)
    with _staging(registry) as staging:
        with open_bundle(path, max_bytes=limit) as reader:
            manifest = reader.manifest
            target = name or manifest.model
            _check_name(path, target)
            files = reader.unpack(staging)
        params_count = check_model(str(path), manifest, files)
        if params_count is None:
            params_count = manifest.params_count
        return _register(registry, target, manifest, files, params_count)


def _check_name(path: Path, target: str) -> None:
    if not is_valid_model_name(target):
        raise ArtifactError(
            f"{path}: {target!r} is not a valid model name (letters, digits, '_', '-' and '.', "
            "at most 100 characters); pass --name"
        )


@contextmanager
def _staging(registry: Registry) -> Iterator[Path]:
    """A fresh folder under the artifact root (same file system: files move, not copy);
    removed afterwards, with the root itself when this import created it."""
    root = registry.artifacts_root
    created = not root.exists()
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".import-", suffix=".tmp", dir=root))
    except OSError as e:
        raise ArtifactError(f"cannot create a staging folder in {root}: {e}") from e
    try:
        yield staging
    finally:
        try:
            shutil.rmtree(staging)
            if created and not any(root.iterdir()):
                root.rmdir()
        except OSError as e:
            logger.warning("could not remove %s (%s); `neuroplast registry gc` will", staging, e)


def _register(
    registry: Registry,
    target: str,
    manifest: Manifest,
    files: dict[str, StagedFile],
    params_count: int,
) -> VersionRecord:
    version = registry.create_version(
        target,
        architecture=manifest.architecture,
        task=manifest.task,
        modality=manifest.modality,
        config=manifest.config,
        source="import",
    )
    moved: list[Path] = []
    try:
        written = {}
        for file_name, staged in files.items():
            dest = version.artifact_dir / file_name
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged.path, dest)
            except OSError as e:
                raise ArtifactError(f"cannot write {dest}: {e}") from e
            moved.append(dest)
            written[file_name] = (dest, staged.sha256)
        for folder in {dest.parent for dest in moved}:
            _fsync_dir(folder)
        metrics = {
            **manifest.metrics,
            "imported_from": f"{manifest.model}:{manifest.version} ({manifest.uid})",
            "imported_lineage": [entry.ref for entry in manifest.lineage],
        }
        return registry.finalize_version(
            version.id, files=written, params_count=params_count, metrics=metrics
        )
    except BaseException:
        for dest in moved:
            dest.unlink(missing_ok=True)
        logger.warning(
            "importing %s as %s failed after its number was reserved; the draft is left for "
            "`neuroplast registry gc`",
            manifest.model,
            version.ref,
        )
        raise
