"""What ``ab status`` reports per version and arm, from the prediction log and feedback.

Three grouped queries on the log of one model: latency per request (the slowest input of
a request is its latency), the agreement of each shadow with the version that answered
the same input (a self-join on request id + item, which the ``ix_predictions_request``
index serves), and feedback joined to every row it labels (so a shadow gets an accuracy
too: how it would have done).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from neuroplast.registry.schema import FeedbackRow, ModelRow, PredictionRow

__all__ = ["ArmStatus", "arm_statuses", "percentile"]


@dataclass(frozen=True)
class ArmStatus:
    """One version in one arm (``production``, ``ab`` or ``shadow``) over the window.

    ``requests`` counts distinct request ids, ``items`` their inputs; latencies are per
    request, in ms (None without requests). ``compared``/``agreement``: inputs a shadow
    answered that the answering version also answered, and the share with the same label
    (None for answering arms). ``feedback``/``accuracy``: inputs with a true label, and
    the share this version got right."""

    version: int
    ref: str
    arm: str
    weight: float | None  # its share of an A/B split that is running, else None
    requests: int
    items: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    compared: int
    agreement: float | None
    feedback: int
    accuracy: float | None


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


_Key = tuple[int, str]  # (version, arm)


def arm_statuses(
    s: Session,
    model: ModelRow,
    split: Mapping[int, float],
    shadows: Sequence[int],
    since: datetime | None,
) -> list[ArmStatus]:
    """Every (version, arm) seen in the log since ``since``, and every configured arm."""
    log = PredictionRow
    window = [log.model_id == model.id] + ([log.at >= since] if since is not None else [])
    latencies, items = _latencies(s, window)
    agreement = _shadow_agreement(s, window)
    feedback = _feedback_accuracy(s, window)
    keys = set(latencies) | {(v, "ab") for v in split} | {(v, "shadow") for v in shadows}
    order = {"production": 0, "ab": 1, "shadow": 2}
    out = []
    for version, arm in sorted(keys, key=lambda k: (order.get(k[1], 3), k[0])):
        times = latencies.get((version, arm), [])
        compared, same = agreement.get((version, arm), (0, 0))
        labelled, right = feedback.get((version, arm), (0, 0))
        out.append(
            ArmStatus(
                version=version,
                ref=f"{model.name}:{version}",
                arm=arm,
                weight=split.get(version) if arm == "ab" else None,
                requests=len(times),
                items=items.get((version, arm), 0),
                p50_ms=percentile(times, 50) if times else None,
                p95_ms=percentile(times, 95) if times else None,
                p99_ms=percentile(times, 99) if times else None,
                compared=compared,
                agreement=same / compared if compared else None,
                feedback=labelled,
                accuracy=right / labelled if labelled else None,
            )
        )
    return out


def _latencies(s: Session, window: list[Any]) -> tuple[dict[_Key, list[float]], dict[_Key, int]]:
    """Per (version, arm): each request's latency, and how many inputs were answered."""
    log = PredictionRow
    latencies: dict[_Key, list[float]] = defaultdict(list)
    items: dict[_Key, int] = defaultdict(int)
    for version, arm, latency, count in s.execute(
        select(log.version, log.arm, func.max(log.latency_ms), func.count(log.id))
        .where(*window)
        .group_by(log.version, log.arm, log.request_id)
    ).all():
        latencies[version, arm].append(float(latency))
        items[version, arm] += int(count)
    return latencies, items


def _shadow_agreement(s: Session, window: list[Any]) -> dict[_Key, tuple[int, int]]:
    """Per shadow version: inputs compared with the answer served, and how many agree."""
    log = PredictionRow
    answer = aliased(PredictionRow)
    return {
        (version, "shadow"): (int(n), int(same or 0))
        for version, n, same in s.execute(
            select(
                log.version,
                func.count(log.id),
                func.sum(case((log.label == answer.label, 1), else_=0)),
            )
            .join(
                answer,
                and_(
                    answer.request_id == log.request_id,
                    answer.item == log.item,
                    answer.model_id == log.model_id,
                    answer.arm != "shadow",
                ),
            )
            .where(*window, log.arm == "shadow")
            .group_by(log.version)
        ).all()
    }


def _feedback_accuracy(s: Session, window: list[Any]) -> dict[_Key, tuple[int, int]]:
    """Per (version, arm): answers with feedback, and how many were right."""
    log = PredictionRow
    return {
        (version, arm): (int(n), int(right or 0))
        for version, arm, n, right in s.execute(
            select(
                log.version,
                log.arm,
                func.count(log.id),
                func.sum(case((log.label == FeedbackRow.label, 1), else_=0)),
            )
            .join(
                FeedbackRow,
                and_(FeedbackRow.request_id == log.request_id, FeedbackRow.item == log.item),
            )
            .where(*window)
            .group_by(log.version, log.arm)
        ).all()
    }
