"""Keeping the artifact files and the database in step: verify, collect garbage, delete.

``verify`` re-hashes every artifact of every version (in whichever artifact store holds
it) and lists files that no row refers to; ``gc`` removes those orphans and the temporary
files of interrupted writes; ``delete_version`` removes a version's rows and files
(the audit trail keeps a ``delete`` event).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update

from neuroplast.errors import ModelNotFoundError, RegistryError
from neuroplast.registry._events import record_event
from neuroplast.registry.artifact_store import (
    ArtifactStore,
    LocalArtifactStore,
    is_partial_write,
)
from neuroplast.registry.schema import ArtifactRow, EvaluationRow, EventRow, VersionRow
from neuroplast.registry.store import Registry

__all__ = ["VerifyReport", "delete_version", "gc", "verify"]

logger = logging.getLogger(__name__)


@dataclass
class VerifyReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    partial_writes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Every recorded artifact present and intact. Orphans and the temporary files of
        interrupted writes are never read by anyone; ``gc`` removes them."""
        return not self.problems


def _store_for(registry: Registry, location: str) -> ArtifactStore:
    if "://" in location:
        return registry.artifact_store
    return LocalArtifactStore(registry.artifacts_root)


def _known(registry: Registry) -> dict[str, str]:
    with registry._session(readonly=True) as s:
        return {a.path: a.sha256 for a in s.scalars(select(ArtifactRow))}


def _evaluation_plots(registry: Registry) -> set[str]:
    """Plots of later evaluations: referenced by their evaluation rows, not hashed."""
    with registry._session(readonly=True) as s:
        return {str(p) for plots in s.scalars(select(EvaluationRow.plots)) for p in plots.values()}


def verify(registry: Registry) -> VerifyReport:
    """Every recorded artifact present and matching its sha256; unreferenced files listed."""
    report = VerifyReport()
    known = _known(registry)
    for location, sha in sorted(known.items()):
        report.checked += 1
        store = _store_for(registry, location)
        if not store.exists(location):
            report.problems.append(f"{location}: missing")
        elif store.sha256(location) != sha:
            report.problems.append(f"{location}: sha256 mismatch (modified or truncated)")
    referenced = _evaluation_plots(registry)
    for location in registry.artifact_store.list():
        if is_partial_write(location):
            report.partial_writes.append(location)
        elif location not in known and location not in referenced:
            report.orphans.append(location)
    return report


def gc(registry: Registry) -> list[str]:
    """Delete orphaned artifact files and leftovers of interrupted writes (and folders left
    empty); returns what was removed."""
    report = verify(registry)
    removed = report.orphans + report.partial_writes
    for location in removed:
        registry.artifact_store.delete(location)
    root = registry.artifacts_root
    if registry.artifact_store.is_local(root) and root.is_dir():
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
    for artifact in version.artifacts.values():
        _store_for(registry, artifact.location).delete(artifact.location)
    if version.artifact_dir.is_dir():
        shutil.rmtree(version.artifact_dir)
    logger.info("deleted %s", version.ref)
    return version.ref
