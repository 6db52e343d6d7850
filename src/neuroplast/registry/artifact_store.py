"""Where artifact bytes live: the local file system, or any fsspec URL.

The registry records each artifact's *location* and sha256. :class:`LocalArtifactStore`
(the default: ``<home>/artifacts``) hands out absolute paths, which the database records
relative to the home's artifact root (see ``_paths``); :class:`FsspecArtifactStore`
hands out full URLs (``s3://bucket/prefix/...``, ``memory://...``, ``file:///shared/...``)
so that a team can share one store. Both write atomically (a temporary name, then a
rename) so that readers never see a partial artifact, and both verify the hash on read.
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path
from typing import Any

from neuroplast.errors import ArtifactError, ConfigError
from neuroplast.registry.artifacts import (
    atomic_write_bytes,
    sha256_bytes,
    sha256_file,
    verify_bytes,
)

__all__ = [
    "ArtifactStore",
    "FsspecArtifactStore",
    "LocalArtifactStore",
    "is_partial_write",
    "open_artifact_store",
]

logger = logging.getLogger(__name__)
_TMP_SUFFIX = ".tmp"


def is_partial_write(location: str) -> bool:
    """A temporary file an interrupted writer left behind (never a published artifact)."""
    name = location.rstrip("/").rsplit("/", 1)[-1]
    return name.startswith(".") and name.endswith(_TMP_SUFFIX)


class ArtifactStore(ABC):
    """Keys are relative (``model/v3/weights.safetensors``); locations are what the registry
    records (a path or a URL) and are accepted back by every other method."""

    url: str

    @abstractmethod
    def put(self, key: str, data: bytes) -> str:
        """Write ``data`` atomically under ``key``; returns its location."""

    @abstractmethod
    def get(self, location: str) -> bytes: ...

    @abstractmethod
    def exists(self, location: str) -> bool: ...

    @abstractmethod
    def delete(self, location: str) -> None: ...

    @abstractmethod
    def list(self) -> list[str]:
        """Every location in the store, partial writes included."""

    @abstractmethod
    def location_of(self, key: str) -> str:
        """The location :meth:`put` gives ``key`` (without writing anything)."""

    @abstractmethod
    def modified(self, location: str) -> float | None:
        """When the file was last written (seconds since the epoch); None if unknown."""

    def sha256(self, location: str) -> str:
        return sha256_bytes(self.get(location))

    def get_verified(self, location: str, sha256: str) -> bytes:
        if not self.exists(location):
            raise ArtifactError(f"artifact {location} is missing from the store {self.url}")
        return verify_bytes(self.get(location), sha256, source=location)

    def is_local(self, root: Path) -> bool:
        """True when this store is the plain directory ``root``."""
        return False


class LocalArtifactStore(ArtifactStore):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def put(self, key: str, data: bytes) -> str:
        path = self._path(key)
        atomic_write_bytes(path, data)
        return str(path)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ArtifactError(f"artifact key {key!r} points outside the store {self.root}")
        return path

    def get(self, location: str) -> bytes:
        return Path(location).read_bytes()

    def exists(self, location: str) -> bool:
        return Path(location).is_file()

    def delete(self, location: str) -> None:
        Path(location).unlink(missing_ok=True)

    def list(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(str(p) for p in self.root.rglob("*") if p.is_file())

    def location_of(self, key: str) -> str:
        return str(self._path(key))

    def modified(self, location: str) -> float | None:
        try:
            return Path(location).stat().st_mtime
        except FileNotFoundError:
            return None

    def sha256(self, location: str) -> str:
        return sha256_file(Path(location))

    def is_local(self, root: Path) -> bool:
        return self.root.resolve() == Path(root).resolve()


class FsspecArtifactStore(ArtifactStore):
    """Any file system fsspec knows; the URL is the store's root."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        import fsspec

        try:
            self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        except (ValueError, ImportError) as e:
            raise ConfigError(
                f"artifact store URL {url!r} cannot be opened: {e} (install the fsspec "
                "backend for that protocol, e.g. s3fs for s3://)"
            ) from e
        self.root = root.rstrip("/")
        self.url = url.rstrip("/")
        self._protocol = url.split("://", 1)[0] if "://" in url else "file"

    def _location(self, path: str) -> str:
        return f"{self._protocol}://{path}" if self._protocol != "file" else f"file://{path}"

    def _path(self, location: str) -> str:
        path = location.split("://", 1)[1] if "://" in location else location
        if self._protocol == "memory" and not path.startswith("/"):
            path = "/" + path
        return path

    def put(self, key: str, data: bytes) -> str:
        if ".." in Path(key).parts or key.startswith("/"):
            raise ArtifactError(f"artifact key {key!r} points outside the store {self.url}")
        final = f"{self.root}/{key}"
        parent, _, name = final.rpartition("/")
        tmp = f"{parent}/.{name}.{uuid.uuid4().hex[:8]}{_TMP_SUFFIX}"
        self.fs.makedirs(parent, exist_ok=True)
        try:
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, final)
        except BaseException:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
            raise
        return self._location(final)

    def get(self, location: str) -> bytes:
        data = self.fs.cat_file(self._path(location))
        return bytes(data)

    def exists(self, location: str) -> bool:
        return bool(self.fs.exists(self._path(location)))

    def delete(self, location: str) -> None:
        path = self._path(location)
        if self.fs.exists(path):
            self.fs.rm(path)

    def list(self) -> list[str]:
        if not self.fs.exists(self.root):
            return []
        return sorted(self._location(p) for p in self.fs.find(self.root))

    def location_of(self, key: str) -> str:
        return self._location(f"{self.root}/{key}")

    def modified(self, location: str) -> float | None:
        try:
            info = self.fs.info(self._path(location))
        except FileNotFoundError:
            return None
        for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
            value = info.get(key)
            if isinstance(value, datetime):
                return value.timestamp()
            if isinstance(value, int | float):
                return float(value)
        return None


def open_artifact_store(url: str | Path) -> ArtifactStore:
    """A plain path -> :class:`LocalArtifactStore`; a URL -> :class:`FsspecArtifactStore`."""
    if isinstance(url, Path) or "://" not in url:
        return LocalArtifactStore(Path(url).expanduser())
    return FsspecArtifactStore(url)
