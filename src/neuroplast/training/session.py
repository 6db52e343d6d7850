"""What the trainers built inside a block share: a launched multi-process Fabric and extra
callbacks (a profiler).

``neuroplast train --devices 2`` launches the processes before it opens the registry, then
trains rank 0 through the usual workflow inside ``training_session(fabric=...)``: the
:class:`~neuroplast.training.Trainer` that workflow builds takes the launched Fabric instead
of making a single-device one. The block is explicit and scoped (a context variable), like
``torch.no_grad``; outside it nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lightning_fabric import Fabric

    from neuroplast.training.callbacks import Callback

__all__ = ["TrainingSession", "current_session", "training_session"]


@dataclass(frozen=True)
class TrainingSession:
    fabric: Fabric | None = None
    callbacks: tuple[Callback, ...] = ()


_SESSION: ContextVar[TrainingSession] = ContextVar("neuroplast_training_session")
_NONE = TrainingSession()


def current_session() -> TrainingSession:
    """The innermost :func:`training_session`'s settings (empty outside one)."""
    return _SESSION.get(_NONE)


@contextmanager
def training_session(
    *, fabric: Fabric | None = None, callbacks: Sequence[Callback] = ()
) -> Iterator[TrainingSession]:
    """Trainers created inside the block use ``fabric`` and add ``callbacks`` to their own."""
    session = TrainingSession(fabric, tuple(callbacks))
    token = _SESSION.set(session)
    try:
        yield session
    finally:
        _SESSION.reset(token)
