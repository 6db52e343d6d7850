"""The loop's two judgements on plain numbers: the gate (before a candidate meets users)
and the rollout decision (promote, roll back or keep waiting), so both can be checked on
fixed figures without a model."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from neuroplast.loop.policy import DecideSection, GateSection, RolloutSection

__all__ = ["ArmNumbers", "Verdict", "gate_verdict", "one_sided_p", "rollout_verdict"]

_EPS = 1e-9  # accuracies are ratios of counts: equal ones must compare equal


@dataclass(frozen=True)
class Verdict:
    """``outcome``: ``pass`` / ``block`` (gate), ``promote`` / ``rollback`` / ``wait``
    (rollout); ``reason`` in words, ``details`` the numbers behind it."""

    outcome: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ArmNumbers:
    """One arm of a rollout since it started: requests, labelled inputs, accuracy on them."""

    version: int
    requests: int
    feedback: int
    accuracy: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "requests": self.requests,
            "feedback": self.feedback,
            "accuracy": self.accuracy,
        }


def _pct(value: float) -> str:
    return f"{value * 100:+.1f} points"


def gate_verdict(
    gate: GateSection,
    *,
    old_before: float,
    old_after: float,
    holdout: int,
    production: float,
    candidate: float,
) -> Verdict:
    """Block a candidate that forgets (loses more than ``gate.max_old_drop`` on the
    reference test set), or does not beat production by ``gate.min_gain`` on ``holdout``
    held-back labelled inputs (accuracies ``production`` and ``candidate``)."""
    drop, gain = old_before - old_after, candidate - production
    details = {
        "reference_before": old_before,
        "reference_after": old_after,
        "reference_drop": drop,
        "max_old_drop": gate.max_old_drop,
        "holdout": holdout,
        "holdout_production": production,
        "holdout_candidate": candidate,
        "holdout_gain": gain,
        "min_gain": gate.min_gain,
    }
    failed = []
    if holdout < gate.min_holdout:
        failed.append(
            f"only {holdout} held-back labelled inputs (gate.min_holdout {gate.min_holdout})"
        )
    if drop > gate.max_old_drop + _EPS:
        failed.append(
            f"it forgets: {_pct(-drop)} on the reference test set "
            f"({old_before:.3f} -> {old_after:.3f}; at most {gate.max_old_drop:.3f} may be lost)"
        )
    if gain < gate.min_gain - _EPS:
        failed.append(
            f"it does not beat production on the held-back feedback: {candidate:.3f} vs "
            f"{production:.3f} ({_pct(gain)}; gate.min_gain {gate.min_gain:+.3f})"
        )
    if failed:
        return Verdict("block", "; ".join(failed), details)
    return Verdict(
        "pass",
        f"reference test set {old_before:.3f} -> {old_after:.3f} ({_pct(-drop)}); held-back "
        f"feedback {candidate:.3f} vs production {production:.3f} ({_pct(gain)}, n={holdout})",
        details,
    )


def one_sided_p(production: ArmNumbers, candidate: ArmNumbers) -> float | None:
    """The p-value of "the candidate is more accurate" (pooled two-proportion z-test), None
    without feedback on both arms."""
    n1, n2 = production.feedback, candidate.feedback
    if not n1 or not n2 or production.accuracy is None or candidate.accuracy is None:
        return None
    pooled = (production.accuracy * n1 + candidate.accuracy * n2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    diff = candidate.accuracy - production.accuracy
    if spread == 0:
        return 0.0 if diff > 0 else 1.0
    return 0.5 * math.erfc(diff / spread / math.sqrt(2))


def rollout_verdict(
    rollout: RolloutSection,
    decide: DecideSection,
    *,
    production: ArmNumbers,
    candidate: ArmNumbers,
    elapsed: timedelta,
) -> Verdict:
    """Promote once both arms have ``min_requests`` and ``min_feedback`` and the candidate
    is ahead by ``promote_margin`` (and significant at ``decide.alpha``, when set); roll back
    as soon as it trails by more than ``rollback_margin``, or when ``max_duration`` passes
    without a promotion; else wait."""
    timed_out = elapsed >= rollout.max_age
    p_value = one_sided_p(production, candidate)
    details: dict[str, Any] = {
        "production": production.to_dict(),
        "candidate": candidate.to_dict(),
        "elapsed_seconds": round(elapsed.total_seconds(), 1),
        "max_seconds": rollout.max_age.total_seconds(),
        "min_requests": rollout.min_requests,
        "min_feedback": rollout.min_feedback,
        "promote_margin": decide.promote_margin,
        "rollback_margin": decide.rollback_margin,
        "alpha": decide.alpha,
        "p_value": p_value,
    }
    short = [
        f"{name} has {getattr(arm, what)} of {need} {words}"
        for name, arm in (("production", production), ("the candidate", candidate))
        for what, need, words in (
            ("requests", rollout.min_requests, "requests"),
            ("feedback", rollout.min_feedback, "labelled inputs"),
        )
        if getattr(arm, what) < need
    ]
    if short or production.accuracy is None or candidate.accuracy is None:
        missing = "; ".join(short) or "no feedback yet"
        if timed_out:
            return Verdict(
                "rollback", f"too little evidence after {rollout.max_duration}: {missing}", details
            )
        return Verdict("wait", f"collecting evidence: {missing}", details)
    gain = candidate.accuracy - production.accuracy
    details["gain"] = gain
    numbers = (
        f"candidate {candidate.accuracy:.3f} (n={candidate.feedback}) vs production "
        f"{production.accuracy:.3f} (n={production.feedback}), {_pct(gain)}"
        + ("" if p_value is None else f", one-sided p={p_value:.3g}")
    )
    significant = decide.alpha is None or (p_value is not None and p_value < decide.alpha)
    if gain >= decide.promote_margin - _EPS and significant:
        return Verdict("promote", numbers, details)
    if gain < -decide.rollback_margin - _EPS:
        return Verdict("rollback", f"the candidate trails: {numbers}", details)
    if timed_out:
        return Verdict("rollback", f"not better after {rollout.max_duration}: {numbers}", details)
    why = (
        "not significant yet" if gain >= decide.promote_margin - _EPS else "not ahead by the margin"
    )
    return Verdict("wait", f"{why}: {numbers}", details)
