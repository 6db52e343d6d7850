"""Helpers of the bad-input tests: what "the registry is unchanged" means, and an image
that claims more pixels than PIL allows."""

from __future__ import annotations

import hashlib
import sqlite3
import struct
import zlib
from pathlib import Path


def png_header(width: int, height: int) -> bytes:
    """A 70-byte PNG that claims ``width`` x ``height`` pixels: PIL checks the size against
    its decompression-bomb limit before decoding, so no large image is ever made."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 10)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def registry_snapshot(home: Path) -> dict[str, str]:
    """``{relative path or "db:<table>": sha256}`` of the home ``home`` (empty if absent):
    the same files under the home (SQLite's database and side files excluded) and the same
    rows in every table of its database."""
    out: dict[str, str] = {}
    if not home.exists():
        return out
    for path in sorted(home.rglob("*")):
        if path.is_file() and not path.name.endswith((".db", "-wal", "-shm", "-journal")):
            out[str(path.relative_to(home))] = hashlib.sha256(path.read_bytes()).hexdigest()
    database = home / "registry.db"
    if database.exists():
        with sqlite3.connect(database) as conn:
            tables = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
            for (table,) in tables:
                rows = conn.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()
                out[f"db:{table}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return out
