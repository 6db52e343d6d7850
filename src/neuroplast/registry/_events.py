"""Writing the audit trail (the ``events`` table)."""

from __future__ import annotations

import getpass
import os
from typing import Any

from sqlalchemy.orm import Session

from neuroplast.registry.schema import EventRow, VersionRow, utcnow

__all__ = ["current_user", "record_event"]


def current_user() -> str:
    """``$NEUROPLAST_USER``, else the login name."""
    try:
        return os.environ.get("NEUROPLAST_USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (some containers)
        return f"uid-{os.getuid()}"


def record_event(
    s: Session,
    model_id: int,
    version: VersionRow | None,
    action: str,
    *,
    stage_from: str | None = None,
    stage_to: str | None = None,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    """Add one audit event; ``details`` are its numbers (JSON), shown by ``models history``."""
    s.add(
        EventRow(
            model_id=model_id,
            version_id=None if version is None else version.id,
            version=None if version is None else version.version,
            action=action,
            stage_from=stage_from,
            stage_to=stage_to,
            reason=reason,
            user=current_user(),
            at=utcnow(),
            details=details,
        )
    )
