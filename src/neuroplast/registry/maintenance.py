"""Keeping the artifact files and the database in step: verify, collect garbage, delete.

``verify`` re-hashes every artifact of every version and lists files that no row refers
to; ``gc`` removes those orphans; ``delete_version`` removes a version's rows and files
(the audit trail keeps a ``delete`` event).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, select, update

from neuroplast.errors import ModelNotFoundError, RegistryError
from neuroplast.registry._events import record_event
from neuroplast.registry.artifacts import sha256_file
from neuroplast.registry.schema import ArtifactRow, EvaluationRow, EventRow, VersionRow
from neuroplast.registry.store import Registry

__all__ = ["VerifyReport", "delete_version", "gc", "verify"]

logger = logging.getLogger(__name__)


@dataclass
class VerifyReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    orphans: list[Path] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


def _known_paths(registry: Registry) -> dict[Path, str]:
    with registry._session() as s:
        return {Path(a.path): a.sha256 for a in s.scalars(select(ArtifactRow))}


def verify(registry: Registry) -> VerifyReport:
    """Every recorded artifact present and matching its sha256; unreferenced files listed."""
    report = VerifyReport()
    known = _known_paths(registry)
    for path, sha in sorted(known.items()):
        report.checked += 1
        if not path.is_file():
            report.problems.append(f"{path}: missing")
        elif sha256_file(path) != sha:
            report.problems.append(f"{path}: sha256 mismatch (modified or truncated)")
    root = registry.artifacts_root
    if root.is_dir():
        report.orphans = sorted(p for p in root.rglob("*") if p.is_file() and p not in known)
    return report


def gc(registry: Registry) -> list[Path]:
    """Delete orphaned artifact files (and folders left empty); returns what was removed."""
    removed = verify(registry).orphans
    for path in removed:
        path.unlink(missing_ok=True)
    root = registry.artifacts_root
    if root.is_dir():
        for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
            if not any(folder.iterdir()):
                folder.rmdir()
    return removed


def delete_version(registry: Registry, ref: str, *, force: bool = False, reason: str = "") -> str:
    """Remove one version's rows and files. The production version needs ``force``."""
    version = registry.resolve(ref)
    if version.stage == "production" and not force:
        raise RegistryError(
            f"{version.ref} is the production version; promote another version first or "
            "pass --force"
        )
    with registry._session() as s:
        row = s.get(VersionRow, version.id)
        if row is None:
            raise ModelNotFoundError(f"{ref!r} disappeared")
        record_event(s, row.model_id, row, "delete", stage_from=row.stage, reason=reason)
        s.flush()
        s.execute(update(VersionRow).where(VersionRow.parent_id == row.id).values(parent_id=None))
        s.execute(delete(ArtifactRow).where(ArtifactRow.version_id == row.id))
        s.execute(delete(EvaluationRow).where(EvaluationRow.version_id == row.id))

        s.execute(update(EventRow).where(EventRow.version_id == row.id).values(version_id=None))
        s.delete(row)
    # Rows first, files second: a crash in between leaves orphans that `gc` removes,
    # never a row that points at missing files.
    if version.artifact_dir.is_dir():
        shutil.rmtree(version.artifact_dir)
    logger.info("deleted %s", version.ref)
    return version.ref
