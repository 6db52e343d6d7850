"""How the database records where files are, so that a home can be moved or copied.

A file under the artifact root (``<home>/artifacts``) is recorded relative to it
(``name/v3/weights.safetensors``) and a checkpoint folder relative to the home
(``runs/<uid>``); a location in an fsspec store keeps its full URL. Anything else (a path
outside the root: another local store, a row older than migration 0003 that pointed
elsewhere) stays absolute. Records hand out absolute paths: the relative form exists only
in the database.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["is_url", "resolve_location", "store_location"]


def is_url(location: str) -> bool:
    return "://" in location


def store_location(location: str | Path, root: Path) -> str:
    """What the database records for ``location`` (a path or a URL) under ``root``."""
    text = str(location)
    if is_url(text) or not Path(text).is_absolute():
        return text
    path = Path(text)
    for candidate, base in ((path, root), (path.resolve(), root.resolve())):
        if candidate.is_relative_to(base):
            return candidate.relative_to(base).as_posix()
    return text


def resolve_location(stored: str, root: Path) -> str:
    """The absolute path (or the URL) of a recorded location."""
    if is_url(stored) or not stored or Path(stored).is_absolute():
        return stored
    return str(root / stored)
