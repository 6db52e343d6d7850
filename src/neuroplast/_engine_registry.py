"""The Engine's verbs on the registry: stages, the audit trail, bundles and upkeep.

A mixin of the Engine (see :mod:`neuroplast._engine_base`); it holds no logic of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from neuroplast.registry import (
    Event,
    VersionRecord,
    history,
    lineage,
    promote,
    rollback,
)

if TYPE_CHECKING:
    from neuroplast.registry.maintenance import VerifyReport

from neuroplast._engine_base import EngineServices

__all__ = ["RegistryVerbs"]


class RegistryVerbs(EngineServices):
    """Stages, the audit trail, bundles and upkeep of the registry, by model id."""

    # ---- stages and their audit trail ------------------------------------------------------
    def promote(self, model_id: str, stage: str, *, reason: str = "") -> VersionRecord:
        """Move a version to ``candidate``, ``production`` or ``archived``."""
        return promote(self.registry, model_id, stage, reason=reason)

    def rollback(self, model_name: str, *, reason: str = "") -> VersionRecord:
        """Put the previous production version of ``model_name`` back in production."""
        return rollback(self.registry, model_name, reason=reason)

    def history(self, model_name: str) -> list[Event]:
        """Who registered, promoted, archived or rolled back which version, when and why."""
        return history(self.registry, model_name)

    def versions(self, model_name: str) -> list[VersionRecord]:
        """Every ready version, oldest first, with its parent, source, stage and metrics."""
        return self.registry.versions(self.registry.resolve(model_name).model_name)

    def lineage(self, model_id: str) -> list[VersionRecord]:
        """The version and its ancestors, newest first."""
        return lineage(self.registry, model_id)

    def delete(self, model_id: str, *, force: bool = False, reason: str = "") -> str:
        """Remove one version's rows and files (production only with ``force``)."""
        from neuroplast.registry.maintenance import delete_version

        return delete_version(self.registry, model_id, force=force, reason=reason)

    def export_bundle(self, model_id: str, out: str | Path, *, force: bool = False) -> Path:
        """Write a self-contained, hash-verified bundle (tar) of one version, to move it to
        another registry (``import_bundle``); ``out`` is a new path, or an existing file
        replaced with ``force``. For ONNX, see :meth:`export_onnx`."""
        from neuroplast._output_paths import check_output_file
        from neuroplast.registry.transfer import export_version

        check_output_file(Path(out), force=force)  # before the registry is opened
        return export_version(self.registry, model_id, Path(out), force=force)

    def export(self, model_id: str, out: str | Path) -> Path:
        """The former name of :meth:`export_bundle` (a tar bundle, not ONNX)."""
        return self.export_bundle(model_id, out)

    def import_bundle(self, bundle: str | Path, *, name: str | None = None) -> VersionRecord:
        """Register an exported bundle as a new version (every file's hash checked first)."""
        from neuroplast.registry.transfer import import_bundle

        return import_bundle(self.registry, Path(bundle), name=name)

    def verify(self) -> VerifyReport:
        """Re-hash every artifact; list orphans and interrupted writes."""
        from neuroplast.registry.maintenance import verify

        return verify(self.registry)

    def gc(self) -> list[str]:
        """Remove orphaned artifact files and leftovers of interrupted writes."""
        from neuroplast.registry.maintenance import gc

        return gc(self.registry)
