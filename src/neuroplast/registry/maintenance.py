"""Keeping the artifact files and the database in step: verify, collect garbage, delete.

``verify`` re-hashes every artifact of every version (in whichever artifact store holds
it), lists files that no row refers to, and reports what interrupted runs and
registrations left behind (stale runs and drafts, see ``_litter``). ``gc`` removes
orphans, the temporary files of interrupted writes and stale drafts, and marks stale runs
interrupted; it never touches what a live lease owns, nor a temporary file (a write in
progress) or an empty folder younger than the grace period (``NEUROPLAST_LEASE_SECONDS``),
and says what it skipped. When most recorded
artifacts are missing (a moved home, an unreachable store) it refuses to run at all.
``delete_version`` removes a version's rows and files (the audit trail keeps a ``delete``
event; the prediction log keeps what it answered).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import select

from neuroplast.errors import ModelNotFoundError, RegistryError
from neuroplast.registry._leases import lease_seconds
from neuroplast.registry._litter import (
    DraftState,
    RunState,
    discard_draft,
    in_progress,
    remove_version_rows,
    settle_run,
)
from neuroplast.registry._paths import is_url, resolve_location
from neuroplast.registry.artifact_store import (
    ArtifactStore,
    LocalArtifactStore,
    is_partial_write,
)
from neuroplast.registry.schema import ArtifactRow, EvaluationRow, VersionRow
from neuroplast.registry.store import Registry
from neuroplast.registry.traffic import release_version

__all__ = [
    "GcReport",
    "Skipped",
    "VerifyReport",
    "collect_garbage",
    "delete_version",
    "discard_run_drafts",
    "gc",
    "verify",
]

logger = logging.getLogger(__name__)


@dataclass
class VerifyReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    partial_writes: list[str] = field(default_factory=list)
    stale_drafts: list[str] = field(default_factory=list)  # registrations that died
    stale_runs: list[str] = field(default_factory=list)  # "running" runs whose process died
    in_progress: list[str] = field(default_factory=list)  # live runs and registrations

    @property
    def clean(self) -> bool:
        """Every recorded artifact present and intact. Orphans, interrupted writes and stale
        runs and drafts are never read by anyone; ``gc`` cleans them up."""
        return not self.problems


@dataclass(frozen=True)
class Skipped:
    item: str  # a location, a run (``run <uid>``) or a draft version (``name:N``)
    reason: str


@dataclass
class GcReport:
    removed: list[str] = field(default_factory=list)  # files
    skipped: list[Skipped] = field(default_factory=list)
    discarded_drafts: list[str] = field(default_factory=list)  # refs of stale drafts
    discarded_files: list[str] = field(default_factory=list)  # their files (also in removed)
    interrupted_runs: list[str] = field(default_factory=list)  # uids now marked interrupted
    completed_runs: list[str] = field(default_factory=list)  # uids that had registered


def _store_for(registry: Registry, location: str) -> ArtifactStore:
    if is_url(location):
        return registry.artifact_store
    return LocalArtifactStore(registry.artifacts_root)


def _known(registry: Registry) -> dict[str, str]:
    root = registry.artifacts_root
    with registry._session(readonly=True) as s:
        return {resolve_location(a.path, root): a.sha256 for a in s.scalars(select(ArtifactRow))}


def _evaluation_plots(registry: Registry) -> set[str]:
    """Plots of later evaluations: referenced by their evaluation rows, not hashed."""
    root = registry.artifacts_root
    with registry._session(readonly=True) as s:
        return {
            resolve_location(str(p), root)
            for plots in s.scalars(select(EvaluationRow.plots))
            for p in plots.values()
        }


def _draft_words(draft: DraftState, files: int) -> str:
    run = f" of run {draft.run_uid}" if draft.run_uid else ""
    return f"{draft.ref}: unfinished registration{run}, {files} files; {draft.lease}"


def _run_words(run: RunState) -> str:
    return f"run {run.uid} ({run.model_name}): running, {run.epochs_done} epochs done; {run.lease}"


def verify(registry: Registry) -> VerifyReport:
    """Every recorded artifact present and matching its sha256; unreferenced files, stale
    drafts and stale runs listed."""
    listed = registry.artifact_store.list()
    drafts, runs = in_progress(registry)
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
    for location in listed:
        if location in known or location in referenced or any(d.owns(location) for d in drafts):
            continue
        if is_partial_write(location):
            report.partial_writes.append(location)
        else:
            report.orphans.append(location)
    for draft in drafts:
        words = _draft_words(draft, sum(draft.owns(loc) for loc in listed))
        (report.in_progress if draft.live else report.stale_drafts).append(words)
    for run in runs:
        words = _run_words(run)
        if run.live:
            report.in_progress.append(words)
        else:
            report.stale_runs.append(
                f"{words}; `neuroplast train CONFIG --resume` continues it, "
                "`neuroplast registry gc` marks it interrupted"
            )
    return report


def _refuse_when_most_are_missing(registry: Registry, known: dict[str, str]) -> None:
    missing = [loc for loc in known if not _store_for(registry, loc).exists(loc)]
    if known and 2 * len(missing) > len(known):
        raise RegistryError(
            f"{len(missing)} of the {len(known)} artifacts the registry records are missing "
            f"(e.g. {sorted(missing)[0]}): the home may have been moved or copied without "
            f"its files, or the artifact store {registry.artifact_store.url} is unreachable. "
            "Nothing was deleted; run `neuroplast registry verify`, restore the files or "
            "delete the versions that lost them (`neuroplast models delete`), then run gc again"
        )


def _young(store: ArtifactStore, location: str, now: float, grace: float) -> float | None:
    """The file's age in seconds when it is younger than ``grace``, else None."""
    written = store.modified(location)
    if written is None:
        return None
    age = now - written
    return age if age < grace else None


def collect_garbage(registry: Registry, *, grace_seconds: float | None = None) -> GcReport:
    """Remove orphaned files, leftovers of interrupted writes and stale drafts, and mark
    stale runs interrupted; returns what was done and what was left alone, and why.

    ``grace_seconds`` (default ``NEUROPLAST_LEASE_SECONDS``, 600): temporary files and
    empty folders younger than this are kept (a write in progress may be about to rename
    or fill them). A finished file nobody records is an orphan at any age, except in a
    draft's folder: the draft's lease protects those.
    """
    registry.require_writable("`registry gc`")
    grace = lease_seconds() if grace_seconds is None else grace_seconds
    store = registry.artifact_store
    # The files first, the rows second: a file written after the listing is not seen, and
    # every file listed whose row commits meanwhile is seen with its row.
    listed = store.list()
    drafts, runs = in_progress(registry)
    known = _known(registry)
    _refuse_when_most_are_missing(registry, known)
    report = GcReport()
    for run in runs:
        status = None if run.live else settle_run(registry, run)
        if status is None:
            report.skipped.append(
                Skipped(f"run {run.uid}", f"alive ({run.lease}); its checkpoints are kept")
            )
        elif status == "interrupted":
            report.interrupted_runs.append(run.uid)
        elif status == "completed":
            report.completed_runs.append(run.uid)
    live: list[DraftState] = []
    for draft in drafts:
        removed = None if draft.live else discard_draft(registry, draft, listed)
        if removed is None:
            live.append(draft)
            files = sum(draft.owns(loc) for loc in listed)
            report.skipped.append(
                Skipped(draft.ref, f"registration in progress, {files} files ({draft.lease})")
            )
        else:
            report.discarded_drafts.append(draft.ref)
            report.discarded_files.extend(removed)
            report.removed.extend(removed)
    referenced = _evaluation_plots(registry)
    now = time.time()
    for location in listed:
        if location in known or location in referenced or any(d.owns(location) for d in drafts):
            continue
        age = _young(store, location, now, grace) if is_partial_write(location) else None
        if age is not None:  # a write in progress: its rename may be a moment away
            report.skipped.append(
                Skipped(location, f"written {age:.0f} s ago, within the {grace:.0f} s grace period")
            )
            continue
        store.delete(location)
        report.removed.append(location)
    _prune_empty_folders(registry, live, report.removed, now, grace)
    for item in report.removed:
        logger.info("gc removed %s", item)
    return report


def _prune_empty_folders(
    registry: Registry, live: list[DraftState], removed: list[str], now: float, grace: float
) -> None:
    """Remove folders left empty. A young empty folder stays (a writer may have just made
    it and be about to fill it) unless gc itself emptied it."""
    root = registry.artifacts_root
    if not (registry.artifact_store.is_local(root) and root.is_dir()):
        return
    keep = [d.directory for d in live]
    emptied = {
        folder
        for location in removed
        if not is_url(location)
        for folder in Path(location).parents
        if folder.is_relative_to(root)
    }
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        if any(folder.is_relative_to(k) for k in keep) or any(folder.iterdir()):
            continue
        if folder not in emptied and now - folder.stat().st_mtime < grace:
            continue
        folder.rmdir()


def discard_run_drafts(registry: Registry, run_id: int) -> list[str]:
    """Discard the drafts a run left when its process died (rows and files), whatever their
    own leases say: call it after :meth:`Registry.claim_run` made this process the run's
    owner (``train --resume``). Returns their refs."""
    drafts, _ = in_progress(registry)
    with registry._session(readonly=True) as s:
        ids = set(
            s.scalars(
                select(VersionRow.id).where(
                    VersionRow.run_id == run_id, VersionRow.status == "draft"
                )
            )
        )
    listed = registry.artifact_store.list()
    discarded = []
    for draft in drafts:
        if draft.id in ids:
            discard_draft(registry, replace(draft, live=False), listed, force=True)
            discarded.append(draft.ref)
    return discarded


def gc(registry: Registry, *, grace_seconds: float | None = None) -> list[str]:
    """:func:`collect_garbage`, returning only the files it removed."""
    return collect_garbage(registry, grace_seconds=grace_seconds).removed


def delete_version(registry: Registry, ref: str, *, force: bool = False, reason: str = "") -> str:
    """Remove one version's rows and files. The production version, an A/B arm and a
    shadow need ``force`` (then the routing drops it). Its logged predictions stay."""
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
        release_version(s, row, force=force)  # out of an A/B test or shadowing, or refuse
        remove_version_rows(s, row, "delete", reason)
    # Rows first, files second: a crash in between leaves orphans that `gc` removes,
    # never a row that points at missing files.
    for artifact in version.artifacts.values():
        _store_for(registry, artifact.location).delete(artifact.location)
    if version.artifact_dir.is_dir():
        shutil.rmtree(version.artifact_dir)
    logger.info("deleted %s", version.ref)
    return version.ref
