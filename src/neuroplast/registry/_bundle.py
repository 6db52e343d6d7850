"""Reading a bundle (``neuroplast models export-bundle``) with bounded work, for ``models import``.

The tar is read once, as a stream, through decompressors that never make more than they
are asked for: ``manifest.json`` must come first and is validated whole (``_manifest``)
before any file is read. Then each member must be a regular file that the manifest lists,
of the size it declares; it is copied in 1 MiB chunks to a staging folder while it is
hashed, so memory stays flat whatever the bundle holds. Nothing in the tar is extracted by
name: staged files get names of their own, and a member's path can reach nothing.

Limits (all refused with an :class:`~neuroplast.errors.ArtifactError`):

* every file together at most ``max_bytes``: the ``max_bytes=`` keyword, else
  ``$NEUROPLAST_IMPORT_MAX_BYTES`` (bytes, or a number with K, M, G or T in powers of 1024),
  else :data:`DEFAULT_MAX_BYTES` (4 GiB); the manifest's declared sizes are checked against
  it before anything is read, and each member against its declared size;
* ``manifest.json`` at most :data:`MAX_MANIFEST_BYTES` (16 MiB), listing at most 1000 files;
* tar extension headers (long names, pax) at most :data:`MAX_HEADER_BYTES` (1 MiB); no
  sparse members, links, devices or folders other than those of the listed files.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import re
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from neuroplast.errors import ArtifactError, ConfigError
from neuroplast.registry._manifest import (
    REEXPORT,
    human_bytes,
    parse_json,
    validate_manifest,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_BYTES_ENV",
    "BundleReader",
    "StagedFile",
    "import_limit",
    "open_bundle",
]

MAX_BYTES_ENV = "NEUROPLAST_IMPORT_MAX_BYTES"
DEFAULT_MAX_BYTES = 4 * 1024**3
MAX_MANIFEST_BYTES = 16 * 1024**2
MAX_HEADER_BYTES = 1024**2
_CHUNK = 1024**2
_HEADER_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


@dataclass(frozen=True)
class StagedFile:
    """One file of the bundle, copied to ``path`` and checked against the manifest."""

    path: Path
    sha256: str
    size: int


def import_limit(max_bytes: int | None = None) -> int:
    """``max_bytes``, else ``$NEUROPLAST_IMPORT_MAX_BYTES``, else :data:`DEFAULT_MAX_BYTES`."""
    if max_bytes is not None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise ConfigError(f"max_bytes must be a positive number of bytes, got {max_bytes!r}")
        return max_bytes
    raw = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    match = re.fullmatch(r"(\d{1,15})\s*([kmgt]?)(?:i?b)?", raw.lower())
    if match is None or int(match[1]) == 0:
        raise ConfigError(
            f"{MAX_BYTES_ENV}={raw!r} is not a size; give bytes or a number with K, M, G or T "
            f"(powers of 1024), e.g. {MAX_BYTES_ENV}=8G"
        )
    return int(match[1]) * _UNITS[match[2]]


class _Refused(tarfile.TarError):
    """A tar header this reader will not process (raised while tarfile reads it)."""


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses, before tarfile reads them into memory, huge long-name or pax headers (a few
    bytes of gzip can declare gigabytes) and sparse members (their maps are unbounded)."""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _HEADER_TYPES and self.size > MAX_HEADER_BYTES:
            raise _Refused(
                f"an extended tar header of {self.size} bytes (at most {MAX_HEADER_BYTES})"
            )
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise _Refused(f"a sparse member {self.name!r}")
        return super()._proc_member(tarfile_)  # type: ignore[misc]

    def _proc_gnusparse_10(self, *args: object) -> None:
        raise _Refused("a sparse member (pax format 1.0)")


@contextmanager
def _tar_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as e:
        raise ArtifactError(f"{path} is not a readable neuroplast bundle (tar): {e}") from e


def _copy(source: IO[bytes], dest: Path) -> tuple[str, int]:
    """Copy ``source`` to the new file ``dest`` in chunks; returns (sha256, bytes). Only
    writing is guarded here: a read error is the bundle's (see :func:`_tar_errors`)."""
    digest = hashlib.sha256()
    copied = 0
    try:
        out = dest.open("xb")
    except OSError as e:
        raise ArtifactError(f"cannot write {dest}: {e}") from e
    with out:
        while chunk := source.read(_CHUNK):
            copied += len(chunk)
            digest.update(chunk)
            try:
                out.write(chunk)
            except OSError as e:
                raise ArtifactError(f"cannot write {dest}: {e}; free some space") from e
        try:
            out.flush()
            os.fsync(out.fileno())
        except OSError as e:
            raise ArtifactError(f"cannot write {dest}: {e}; free some space") from e
    return digest.hexdigest(), copied


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a symbolic link to {member.linkname!r}"
    if member.islnk():
        return f"a hard link to {member.linkname!r}"
    if member.isdir():
        return "a folder"
    return "a device or pipe"


class BundleReader:
    """One pass over a bundle's tar stream: :attr:`manifest` on opening, then :meth:`unpack`."""

    def __init__(self, path: Path, tar: tarfile.TarFile, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._tar = tar
        first = tar.next()
        if first is None or first.name != "manifest.json" or not first.isreg():
            raise ArtifactError(
                f"{path} does not start with manifest.json; is it a neuroplast bundle? ({REEXPORT})"
            )
        if first.size > MAX_MANIFEST_BYTES:
            raise ArtifactError(
                f"{path}: manifest.json is {human_bytes(first.size)}, more than the "
                f"{human_bytes(MAX_MANIFEST_BYTES)} a manifest may take; {REEXPORT}"
            )
        handle = tar.extractfile(first)
        data = b"" if handle is None else handle.read()  # at most MAX_MANIFEST_BYTES
        self.manifest = validate_manifest(str(path), parse_json(data, f"{path}: manifest.json"))
        declared = sum((self.manifest.sizes or {}).values())
        if declared > max_bytes:
            raise self._too_big(f"declares {human_bytes(declared)} of files", declared)

    def _too_big(self, what: str, needed: int) -> ArtifactError:
        return ArtifactError(
            f"{self.path} {what}, more than the import limit of {human_bytes(self.max_bytes)}; "
            f"if you trust it, raise the limit: {MAX_BYTES_ENV}={-(-needed // 1024**2)}M"
        )

    def unpack(self, staging: Path) -> dict[str, StagedFile]:
        """Copy every listed file into ``staging`` (hash and size checked); name -> file."""
        with _tar_errors(self.path):
            return self._unpack(staging)

    def _unpack(self, staging: Path) -> dict[str, StagedFile]:
        manifest, where = self.manifest, str(self.path)
        expected = {f"files/{name}": name for name in manifest.files}
        folders = {"files"} | {
            "files/" + "/".join(name.split("/")[:depth])
            for name in manifest.files
            for depth in range(1, name.count("/") + 1)
        }
        seen = {"manifest.json"}
        staged: dict[str, StagedFile] = {}
        total = 0
        while (member := self._tar.next()) is not None:
            if member.name in seen:
                raise ArtifactError(
                    f"{where} holds {member.name!r} twice; the bundle was tampered with, {REEXPORT}"
                )
            seen.add(member.name)
            if member.isdir() and member.name in folders:
                continue
            name = expected.get(member.name)
            if name is None:
                raise ArtifactError(
                    f"{where} holds {member.name!r}, which its manifest does not list; the "
                    f"bundle was tampered with, {REEXPORT}"
                )
            if not member.isreg():
                raise ArtifactError(
                    f"{where}: {member.name!r} is {_kind(member)}, not a file; {REEXPORT}"
                )
            declared = None if manifest.sizes is None else manifest.sizes[name]
            if declared is not None and member.size != declared:
                raise ArtifactError(
                    f"{where}: {member.name} is {member.size} bytes but the manifest declares "
                    f"{declared}; the bundle was tampered with, {REEXPORT}"
                )
            total += member.size
            if total > self.max_bytes:
                raise self._too_big(f"holds at least {human_bytes(total)} of files", total)
            source = self._tar.extractfile(member)
            dest = staging / f".{len(staged)}.tmp"
            sha, size = ("", -1) if source is None else _copy(source, dest)
            if size != member.size or sha != manifest.files[name]:
                raise ArtifactError(
                    f"{where}: {name} is missing or does not match its sha256; the bundle is "
                    "damaged, nothing was imported"
                )
            staged[name] = StagedFile(dest, sha, size)
        missing = sorted(set(manifest.files) - set(staged))
        if missing:
            raise ArtifactError(
                f"{where}: {missing[0]} is missing or does not match its sha256; the bundle is "
                "damaged, nothing was imported"
            )
        return staged


def _decompressed(raw: IO[bytes]) -> IO[bytes]:
    """``raw``, decompressed if it starts like gzip, bz2 or xz. These readers never make
    more than what is asked of them; tarfile's own (``r|gz``...) decompress each 10 KiB
    they read whole, and 400 bytes of bz2 can hold gigabytes."""
    head = raw.read(6)
    raw.seek(0)
    opened: io.BufferedIOBase
    if head.startswith(b"\x1f\x8b"):
        opened = gzip.GzipFile(fileobj=raw, mode="rb")
    elif head.startswith(b"BZh"):
        opened = bz2.BZ2File(raw, mode="rb")
    elif head.startswith(b"\xfd7zXZ\x00"):
        opened = lzma.LZMAFile(raw, mode="rb")  # noqa: SIM115 (the caller closes it)
    else:
        return raw
    return cast(IO[bytes], opened)


@contextmanager
def open_bundle(path: Path, *, max_bytes: int) -> Iterator[BundleReader]:
    """The bundle at ``path`` (a plain, gzip, bz2 or xz tar), read once as a stream; its
    manifest is validated on opening."""
    if not path.is_file():
        raise ArtifactError(f"bundle {path} not found")
    with ExitStack() as stack:
        with _tar_errors(path):
            raw = stack.enter_context(path.open("rb"))
            stream = stack.enter_context(_decompressed(raw))
            tar = stack.enter_context(
                tarfile.open(fileobj=stream, mode="r|", tarinfo=_BoundedTarInfo)
            )
            reader = BundleReader(path, tar, max_bytes)
        yield reader
