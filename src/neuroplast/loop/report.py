"""What one loop step decided, and the audit events it writes for it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neuroplast.loop.policy import LoopPolicy
    from neuroplast.registry import Event, Registry

__all__ = ["Decision", "LoopReport", "StepContext", "jsonable"]

#: Outcomes that change the registry, and what a dry run reports instead.
ACTING = {
    "trained": "would_train",
    "blocked": "would_block",
    "started": "would_start",
    "promoted": "would_promote",
    "rolled_back": "would_roll_back",
    "ended": "would_end",
}


def jsonable(value: Any) -> Any:
    """``value`` with numpy numbers, datetimes and non-finite floats made JSON-safe."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalars and arrays
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class Decision:
    """One decision of a step: ``step`` (guard, rollout, trigger, feedback, update, gate,
    decide), ``outcome`` (waiting, busy, triggered, trained, passed, blocked, started,
    promoted, rolled_back, ended, failed; ``would_train``, ``would_promote``... in a dry
    run), the reason in words,
    and its numbers."""

    step: str
    outcome: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "outcome": self.outcome,
            "reason": self.reason,
            "details": jsonable(self.details),
        }


@dataclass
class LoopReport:
    """One step of the loop on ``model``: its decisions in order, the candidate it trained
    or judged (``name:N``), and the version it promoted, if any."""

    model: str
    dry_run: bool = False
    decisions: list[Decision] = field(default_factory=list)
    candidate: str | None = None
    promoted: str | None = None

    @property
    def outcome(self) -> str:
        """The last decision's outcome (what this step came to)."""
        return self.decisions[-1].outcome if self.decisions else "waiting"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "dry_run": self.dry_run,
            "outcome": self.outcome,
            "candidate": self.candidate,
            "promoted": self.promoted,
            "decisions": [d.to_dict() for d in self.decisions],
        }


class StepContext:
    """What a step works with: the registry, the model, the policy, the time, the audit
    trail read at its start, and the report it fills."""

    def __init__(
        self,
        registry: Registry,
        model: str,
        policy: LoopPolicy,
        *,
        dry_run: bool,
        now: datetime,
    ) -> None:
        from neuroplast.registry import history

        self.registry = registry
        self.model = model
        self.policy = policy
        self.dry_run = dry_run
        self.now = now if now.tzinfo else now.replace(tzinfo=UTC)
        self.events: list[Event] = history(registry, model)
        self.report = LoopReport(model=model, dry_run=dry_run)

    def loop_events(self) -> list[Event]:
        return [e for e in self.events if e.action.startswith("loop_")]

    def decide(
        self,
        step: str,
        outcome: str,
        reason: str,
        details: dict[str, Any] | None = None,
        *,
        action: str | None = None,
        ref: str | None = None,
    ) -> Decision:
        """Add a decision to the report and (unless a dry run) its audit event ``action``
        on ``ref`` (default: the model). A ``loop_wait`` repeating the last loop event's
        ``code`` is not written again (a schedule waiting all night writes one event)."""
        shown = ACTING.get(outcome, outcome) if self.dry_run else outcome
        numbers = jsonable(details or {})
        decision = Decision(step, shown, reason, numbers)
        self.report.decisions.append(decision)
        if self.dry_run or action is None:
            return decision
        if action == "loop_wait":
            last = self.loop_events()[-1:]
            if (
                last
                and last[0].action == "loop_wait"
                and (last[0].details or {}).get("code") == numbers.get("code")
            ):
                return decision
        from neuroplast.registry import add_event

        add_event(
            self.registry,
            ref or self.model,
            action,
            reason=reason[:2000],
            details={"step": step, "outcome": outcome, **numbers},
        )
        return decision
