"""Artifact files: written atomically (temp file, fsync, rename) and verified by sha256 on load.

Weights are safetensors and everything else is JSON; nothing is ever unpickled. Hashing,
atomic writes and JSON reads need no torch (the registry's commands start fast); torch is
imported by the two safetensors functions only.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.errors import ArtifactError

if TYPE_CHECKING:
    import torch

__all__ = [
    "RESTORE",
    "atomic_write_bytes",
    "atomic_write_json",
    "read_json_verified",
    "read_safetensors_verified",
    "read_verified",
    "save_safetensors",
    "set_open_mode",
    "sha256_bytes",
    "sha256_file",
    "verify_bytes",
]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory; the rename is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_mode() -> int:
    """The mode ``open()`` would give a new file (0o666 less the umask): ``mkstemp`` makes
    its files private (0o600), which would keep a shared registry's other users out."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


#: Read once at import, before any thread could race the two ``umask`` calls.
_FILE_MODE = _file_mode()


def set_open_mode(fileno: int) -> None:
    """Give a ``mkstemp`` file the mode ``open()`` would have given it."""
    if hasattr(os, "fchmod"):  # POSIX; Windows has no modes to fix
        os.fchmod(fileno, _FILE_MODE)


def atomic_write_bytes(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one,
    with the permissions a plain ``open()`` would give it.

    Returns the sha256 of what was written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            set_open_mode(handle.fileno())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return sha256_bytes(data)


def atomic_write_json(path: Path, payload: Any) -> str:
    text = json.dumps(payload, indent=2, sort_keys=True, allow_nan=True)
    return atomic_write_bytes(path, (text + "\n").encode("utf-8"))


def save_safetensors(
    path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> str:
    """Save tensors (made contiguous, on the CPU) atomically; returns the sha256."""
    from safetensors.torch import save as st_save

    cpu = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    return atomic_write_bytes(path, st_save(cpu, metadata=metadata))


#: What to do about a missing or damaged artifact of a registered version.
RESTORE = "restore it, or re-train or re-import the model"


def verify_bytes(data: bytes, sha256: str | None, *, source: object, fix: str = RESTORE) -> bytes:
    """``data`` (read from ``source``) if its sha256 is ``sha256`` (None: not checked);
    otherwise an :class:`ArtifactError` that says so and what to do (``fix``)."""
    if sha256 is not None and sha256_bytes(data) != sha256:
        raise ArtifactError(
            f"artifact {source} does not match its recorded sha256 (truncated or modified "
            f"after it was written); nothing was loaded from it. {fix[:1].upper()}{fix[1:]}"
        )
    return data


def read_verified(path: Path, sha256: str | None, *, fix: str = RESTORE) -> bytes:
    """The bytes of ``path``, checked against ``sha256`` (None: not checked). The one
    verified read of an artifact: a missing file or a wrong hash raises
    :class:`ArtifactError` naming the file and ``fix``. Needs no torch."""
    if not path.is_file():
        raise ArtifactError(f"artifact {path} is missing; {fix}")
    return verify_bytes(path.read_bytes(), sha256, source=path, fix=fix)


def read_safetensors_verified(path: Path, sha256: str | None) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    data = read_verified(path, sha256)
    try:
        return st_load(data)
    except SafetensorError as e:
        raise ArtifactError(f"artifact {path} is not a valid safetensors file: {e}") from e


def read_json_verified(path: Path, sha256: str | None) -> Any:
    data = read_verified(path, sha256)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"artifact {path} is not valid JSON: {e}") from e
