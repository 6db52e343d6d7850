"""The rules for a path a command writes its output to (``-o``), checked before any work.

A file output (``neuroplast models export-bundle -o FILE``) must be a new path or an existing
regular file, replaced only with ``force``; a folder output (``neuroplast export-onnx -o DIR``)
must be a new path or an existing folder, whose files of the same names are replaced only
with ``force``. Anything else (a directory where a file is expected, a file where a folder
is expected, a device such as ``/dev/full``, a FIFO, a socket, a symlink to one of those or
to nothing) is a :class:`~neuroplast.errors.ConfigError` that says what the path is. A
symlink to an allowed target counts as its target: it is written through, not replaced.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from pathlib import Path

from neuroplast.errors import ConfigError

__all__ = ["check_output_dir", "check_output_file"]


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def _target(path: Path, option: str) -> tuple[Path, int | None]:
    """``(where to write, its st_mode or None when it does not exist yet)``; a symlink is
    followed, a dangling one refused, and the nearest existing parent must be a folder."""
    if path.is_symlink():
        target = path.resolve()
        if not target.exists():
            raise ConfigError(
                f"{option} {path} is a symlink to {target}, which does not exist; remove the "
                "link or choose another path"
            )
        path = target
    try:
        return path, path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # a new path (or one under a file)
        pass
    except OSError as error:
        raise ConfigError(f"{option} {path} cannot be checked ({error.strerror})") from error
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(
                    f"{option} {path} cannot be created: {parent} is {_kind(parent.stat().st_mode)}"
                    ", not a directory; choose another path"
                )
            break
    return path, None


def check_output_file(path: Path, *, force: bool, option: str = "--output") -> Path:
    """Where to write the file ``path`` (its target when it is a symlink to a file), after
    the checks of the module doc."""
    target, mode = _target(path, option)
    if mode is None:
        return target
    if not stat.S_ISREG(mode):
        shown = path if target == path else f"{path} (a symlink to {target})"
        hint = f"; give a file name inside it, e.g. {path}/model.tar" if stat.S_ISDIR(mode) else ""
        raise ConfigError(
            f"{option} {shown} is {_kind(mode)}, not a regular file; nothing was written"
            f"{hint or '; choose a file path'}"
        )
    if not force:
        raise ConfigError(
            f"{option} {path} already exists; pass --force to replace it or choose another path"
        )
    return target


def check_output_dir(
    path: Path, *, force: bool, names: Iterable[str], option: str = "--output"
) -> Path:
    """Where to write the folder ``path``, after the checks of the module doc; ``names`` are
    the files it will hold (an existing one is replaced only with ``force``)."""
    target, mode = _target(path, option)
    if mode is None:
        return target
    if not stat.S_ISDIR(mode):
        shown = path if target == path else f"{path} (a symlink to {target})"
        raise ConfigError(
            f"{option} {shown} is {_kind(mode)}, not a folder; nothing was written. Pass a new "
            "or existing folder"
        )
    present = sorted(
        name for name in names if (target / name).is_symlink() or (target / name).exists()
    )
    odd = [n for n in present if (target / n).is_symlink() or not (target / n).is_file()]
    if odd:
        raise ConfigError(
            f"{option} {path} holds {', '.join(odd)}, which {'is' if len(odd) == 1 else 'are'} "
            "not a regular file; remove it or choose another folder"
        )
    if present and not force:
        raise ConfigError(
            f"{option} {path} already holds {', '.join(present)}; pass --force to replace "
            "them or choose another folder"
        )
    return target
