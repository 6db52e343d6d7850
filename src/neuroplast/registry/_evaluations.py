"""The evaluations half of the registry: metrics of a version on a split, and its plots
(recorded like artifacts: relative to the artifact root, see ``_paths``)."""

from __future__ import annotations

from abc import abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from neuroplast.registry._paths import resolve_location, store_location
from neuroplast.registry.records import EvaluationRecord, VersionRecord
from neuroplast.registry.schema import EvaluationRow

__all__ = ["EvaluationsMixin"]


class EvaluationsMixin:
    """Evaluation rows; :class:`~neuroplast.registry.store.Registry` supplies the session."""

    @property
    @abstractmethod
    def artifacts_root(self) -> Path: ...

    @abstractmethod
    def _session(self, *, readonly: bool = False) -> AbstractContextManager[Session]: ...

    def add_evaluation(
        self,
        version_id: int,
        *,
        split: str,
        data_source: str,
        metrics: dict[str, Any],
        baseline: dict[str, Any] | None = None,
        plots: dict[str, Any] | None = None,
    ) -> None:
        """``plots``: name -> the path of a PNG (under the version's folder)."""
        root = self.artifacts_root
        with self._session() as s:
            s.add(
                EvaluationRow(
                    version_id=version_id,
                    split=split,
                    data_source=data_source,
                    metrics=metrics,
                    baseline=baseline,
                    plots={
                        k: store_location(v, root) if isinstance(v, str | Path) else v
                        for k, v in (plots or {}).items()
                    },
                )
            )

    def evaluations(self, version: VersionRecord) -> list[EvaluationRecord]:
        root = self.artifacts_root
        with self._session(readonly=True) as s:
            rows = s.scalars(
                select(EvaluationRow)
                .where(EvaluationRow.version_id == version.id)
                .order_by(EvaluationRow.id)
            ).all()
            return [
                EvaluationRecord(
                    r.id,
                    version.ref,
                    r.split,
                    r.data_source,
                    dict(r.metrics),
                    None if r.baseline is None else dict(r.baseline),
                    {
                        k: resolve_location(v, root) if isinstance(v, str) else v
                        for k, v in (r.plots or {}).items()
                    },
                    r.created_at,
                )
                for r in rows
            ]
