"""Whether to train a candidate: drift in the serving version's newest traffic windows
(``neuroplast monitor``'s tests), low accuracy on recent feedback, new classes in it, or
``always``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from neuroplast.errors import ConfigError, DataError
from neuroplast.loop.feedback import FeedbackSet
from neuroplast.loop.policy import TriggerSection
from neuroplast.registry import Registry

__all__ = ["DriftCheck", "TriggerResult", "check_drift", "detector_of", "evaluate_trigger"]

logger = logging.getLogger(__name__)

_PREFIXES = (
    ("pooled features", "features"),
    ("predicted-class mix", "class_mix"),
    ("confidence", "confidence"),
    ("accuracy", "accuracy"),
)


def detector_of(test_name: str) -> str:
    """The policy's short name of a ``monitor`` test (input statistics are ``inputs``)."""
    lowered = test_name.lower()
    for prefix, short in _PREFIXES:
        if lowered.startswith(prefix):
            return short
    return "inputs"


@dataclass(frozen=True)
class DriftCheck:
    """The newest windows' verdicts; ``alarm`` when all ``consecutive`` of them raised one
    on a counted detector; ``note`` says why no check ran (no or too little traffic)."""

    alarm: bool
    windows: int = 0
    tests: list[str] = field(default_factory=list)
    note: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def check_drift(
    registry: Registry, model: str, trigger: TriggerSection, *, since: datetime | None, store: bool
) -> DriftCheck:
    """``monitor_traffic`` on the serving version, judged by the policy's detectors."""
    from neuroplast.monitoring import monitor_traffic

    try:
        report = monitor_traffic(
            registry,
            model,
            window=trigger.window,
            since=since,
            reference=trigger.reference,
            alpha=trigger.alpha,
            store=store,
        )
    except (DataError, ConfigError) as e:  # no traffic yet, or less than a window
        if "no traffic" in str(e):
            return DriftCheck(False, note=f"no traffic of {model} is logged yet")
        if "--window" not in str(e):
            raise
        version = registry.resolve(model)
        logged = sum(
            r.version == version.version
            for r in registry.predictions(version.model_name, since=since, limit=trigger.window)
        )
        return DriftCheck(
            False,
            note=f"{logged} inputs of {version.ref} logged, fewer than a drift window "
            f"(trigger.window {trigger.window})",
        )
    newest = report.windows[-trigger.consecutive :]
    counted = set(trigger.detectors)
    per_window = [
        sorted({r.name for r in w.results if r.alarm and detector_of(r.name) in counted})
        for w in newest
    ]
    enough = len(newest) == trigger.consecutive
    alarm = enough and all(per_window)
    details = {
        "version": report.version,
        "reference": report.reference,
        "window": report.window,
        "windows": len(report.windows),
        "alarms": report.alarms,
        "newest": [
            {"index": w.index, "alarm": bool(tests), "tests": tests}
            for w, tests in zip(newest, per_window, strict=True)
        ],
    }
    tests = sorted({t for window in per_window for t in window})
    note = None if enough else f"{len(newest)} of {trigger.consecutive} windows logged so far"
    return DriftCheck(alarm, len(report.windows), tests, note, details)


@dataclass(frozen=True)
class TriggerResult:
    """The reasons to train (empty: none) and the numbers behind them."""

    reasons: list[str]
    details: dict[str, Any]

    @property
    def fired(self) -> bool:
        return bool(self.reasons)


def evaluate_trigger(
    trigger: TriggerSection, drift: DriftCheck, feedback: FeedbackSet, serving: int
) -> TriggerResult:
    """Combine the drift check with the feedback's accuracy and new classes."""
    rows = [*feedback.train, *feedback.holdout]
    answered = [r for r in rows if r.version == serving]
    accuracy = sum(r.label == r.feedback for r in answered) / len(answered) if answered else None
    reasons = []
    if drift.alarm:
        reasons.append(
            f"drift in the newest {trigger.consecutive} window(s): {', '.join(drift.tests)}"
        )
    if (
        trigger.min_accuracy is not None
        and accuracy is not None
        and accuracy < trigger.min_accuracy
    ):
        reasons.append(
            f"accuracy on recent feedback {accuracy:.3f} < trigger.min_accuracy "
            f"{trigger.min_accuracy:.3f} (n={len(answered)})"
        )
    if trigger.new_classes and feedback.new_classes:
        reasons.append(f"feedback names new classes: {', '.join(feedback.new_classes)}")
    if trigger.always and not reasons:
        reasons.append("trigger.always is on")
    details = {
        "drift": {"alarm": drift.alarm, "note": drift.note, **drift.details},
        "serving_accuracy": accuracy,
        "serving_feedback": len(answered),
        "new_classes": list(feedback.new_classes),
    }
    return TriggerResult(reasons, details)
