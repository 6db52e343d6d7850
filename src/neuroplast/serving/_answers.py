"""What the pool makes of a served version's outputs: predictions with their ``top_k``
labels (a classifier's probability rows or a neuromorphic learner's answers), what
``GET /v1/models`` says of a task model, and the check that one model's routing table
pairs versions of one kind only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from neuroplast.inference.base import Prediction
from neuroplast.serving._task_kinds import TaskModel, kind_title

if TYPE_CHECKING:
    from neuroplast.serving._loading import ServedVersion
    from neuroplast.serving.router import Router

__all__ = ["mixed_kinds", "predictions_of", "served_details"]


def predictions_of(rows: Sequence[Any], labels: Sequence[str], top_k: int) -> list[Prediction]:
    """A classifier's probability rows, or a neuromorphic learner's answers (label,
    confidence, probabilities), as predictions with their ``top_k`` labels."""
    out = []
    for row in rows:
        if isinstance(row, dict):
            ordered = sorted(row["probabilities"].items(), key=lambda kv: -kv[1])[:top_k]
            ranked = [(str(label), float(p)) for label, p in ordered]
            label, probability = str(row["label"]), float(row["confidence"])
        else:
            best = np.argsort(-row, kind="stable")[:top_k]
            ranked = [(labels[j], float(row[j])) for j in best]
            label, probability = ranked[0]
        out.append(Prediction(label=label, probability=probability, top_k=ranked))
    return out


def served_details(version: ServedVersion) -> dict[str, Any]:
    model = version.predictor
    return model.details() if isinstance(model, TaskModel) else {}


def mixed_kinds(router: Router, versions: Mapping[str, ServedVersion]) -> str | None:
    """Why ``router`` cannot serve (its versions are of different kinds), or None."""
    kinds = {ref: versions[ref].task for ref in router.refs if ref in versions}
    if len(set(kinds.values())) <= 1:
        return None
    listed = ", ".join(f"{ref} is {kind_title(kind)}" for ref, kind in kinds.items())
    return (
        f"{router.model} cannot route between versions of different kinds ({listed}): an A/B "
        "split or a shadow pairs versions that answer the same way; stop it or promote one"
    )
