"""One loop step at a time per model.

Two layers: a file lock under the registry's home (``locks/loop-NAME.lock``) held for the
whole step, so a second ``neuroplast loop`` on this machine (a schedule firing while a
candidate trains) answers "busy" at once; and, while a candidate trains, a run in the
registry (``neuroplast runs``) holding a lease that is renewed from a heartbeat thread, so a
loop on another machine sharing a PostgreSQL registry sees it too, and a killed loop's
lease runs out (or, on this machine, is seen dead at once) instead of blocking forever.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neuroplast.registry import Registry

__all__ = ["Busy", "loop_run_config", "step_lock", "training_run"]


class Busy(Exception):
    """Another loop step of the model runs; ``str()`` says who and since when."""


def _safe(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", model)[:120]


@contextmanager
def step_lock(registry: Registry, model: str) -> Iterator[None]:
    """Hold this machine's lock on ``model``'s loop for the block; :class:`Busy` if taken."""
    folder = Path(registry.home) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"loop-{_safe(model)}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
            raise Busy(
                f"another loop step of {model} runs on this machine (process {holder}); this "
                "one does nothing"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def loop_run_config(model: str) -> dict[str, Any]:
    """The config of the loop's training runs of ``model`` (one hash per model)."""
    return {"closed_loop": {"model": model}}


@contextmanager
def training_run(registry: Registry, model: str) -> Iterator[int]:
    """A running run with a live lease while the candidate trains (its id is yielded);
    :class:`Busy` when another process holds the model's loop run. The run ends
    ``completed``, or ``failed`` with the error."""
    config = loop_run_config(model)
    stale = registry.latest_interrupted_run(config)
    if stale is not None:
        holder = registry.claim_run(stale.id)
        if holder is not None:
            raise Busy(f"a candidate of {model} is being trained (run {stale.uid}: {holder})")
        run_id = stale.id
    else:
        run_id = registry.start_run(model, config).id
    try:
        with registry.heartbeat(run_id):
            yield run_id
    except BaseException as e:
        registry.update_run(run_id, status="failed", error=f"{type(e).__name__}: {e}"[:2000])
        raise
    registry.complete_run(run_id)
