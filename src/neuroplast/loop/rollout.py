"""A candidate meets traffic: start its rollout (A/B split, shadow, or direct promotion),
and on a later step decide the running one (promote, roll back, or keep waiting).

The loop recognises its own rollout by its ``loop_rollout`` event (the candidate, the
production version it is compared with, the mode) and the routing that still carries it;
an A/B test someone started by hand is left alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from neuroplast.errors import ConfigError, RegistryError
from neuroplast.loop.report import StepContext
from neuroplast.loop.rules import ArmNumbers, Verdict, rollout_verdict

__all__ = ["Rollout", "current_rollout", "decide_rollout", "start_rollout"]

logger = logging.getLogger(__name__)

_CLOSING = frozenset({"loop_promote", "loop_rollback", "loop_rollout_gone"})


@dataclass(frozen=True)
class Rollout:
    """The loop's newest rollout that is still open: ``live`` when the routing carries it."""

    mode: str
    production: int
    candidate: int
    started: datetime
    live: bool


def current_rollout(ctx: StepContext) -> Rollout | None:
    """The loop's open rollout of the model (from the audit trail and the routing)."""
    events = ctx.loop_events()
    starts = [i for i, e in enumerate(events) if e.action == "loop_rollout"]
    if not starts:
        return None
    start = events[starts[-1]]
    if any(e.action in _CLOSING for e in events[starts[-1] + 1 :]):
        return None
    details = start.details or {}
    mode, candidate = str(details.get("mode", "ab")), int(details.get("candidate", 0))
    routing = ctx.registry.routing(ctx.model)
    live = (
        routing.active and candidate in routing.split
        if mode == "ab"
        else candidate in routing.shadows
    )
    at = start.at if start.at.tzinfo else start.at.replace(tzinfo=UTC)
    return Rollout(mode, int(details.get("production", 0)), candidate, at, live)


def _arm(ctx: StepContext, version: int, arm: str, since: datetime) -> ArmNumbers:
    for status in ctx.registry.ab_status(ctx.model, since=since):
        if status.version == version and status.arm == arm:
            return ArmNumbers(version, status.requests, status.feedback, status.accuracy)
    return ArmNumbers(version, 0, 0, None)


def decide_rollout(ctx: StepContext, rollout: Rollout) -> None:
    """Promote, roll back or wait, on the feedback each arm got since the rollout began."""
    ref = f"{ctx.model}:{rollout.candidate}"
    if not rollout.live:
        ctx.decide(
            "rollout",
            "ended",
            f"the {rollout.mode} rollout of {ref} was ended outside the loop (`neuroplast ab`); "
            "the loop goes on without it",
            {"mode": rollout.mode, "candidate": rollout.candidate},
            action="loop_rollout_gone",
            ref=ref,
        )
        return
    answering = "ab" if rollout.mode == "ab" else "production"
    mine = "ab" if rollout.mode == "ab" else "shadow"
    verdict = rollout_verdict(
        ctx.policy.rollout,
        ctx.policy.decide,
        production=_arm(ctx, rollout.production, answering, rollout.started),
        candidate=_arm(ctx, rollout.candidate, mine, rollout.started),
        elapsed=ctx.now - rollout.started,
    )
    details = {"mode": rollout.mode, **verdict.details}
    if verdict.outcome == "wait":
        ctx.decide(
            "rollout", "waiting", verdict.reason, {"code": "rollout", **details}, action="loop_wait"
        )
        return
    if ctx.dry_run:
        outcome = "promoted" if verdict.outcome == "promote" else "rolled_back"
        ctx.decide("decide", outcome, verdict.reason, details)
        return
    _act(ctx, rollout, verdict, details)


def _act(ctx: StepContext, rollout: Rollout, verdict: Verdict, details: dict[str, object]) -> None:
    from neuroplast.registry import promote

    ref = f"{ctx.model}:{rollout.candidate}"
    why = f"closed loop: {verdict.reason}"
    try:
        if rollout.mode == "ab":
            keep = rollout.candidate if verdict.outcome == "promote" else None
            ctx.registry.stop_ab(ctx.model, promote=keep, reason=why)
        else:
            ctx.registry.remove_shadow(ref, reason=why)
            if verdict.outcome == "promote":
                promote(ctx.registry, ref, "production", reason=why)
    except RegistryError as e:  # another process ended it meanwhile
        ctx.decide("decide", "ended", f"the rollout of {ref} ended meanwhile: {e}", details)
        return
    if verdict.outcome == "promote":
        ctx.report.promoted = ref
        ctx.decide("decide", "promoted", verdict.reason, details, action="loop_promote", ref=ref)
        return
    promote(ctx.registry, ref, "archived", reason=why)
    ctx.decide("decide", "rolled_back", verdict.reason, details, action="loop_rollback", ref=ref)


def _prepare_serving(ctx: StepContext, production: int, candidate: int) -> None:
    """Store the candidate's ONNX files when production has them, so that no server exports
    them (with torch) while it is answering requests."""
    prod = ctx.registry.resolve(f"{ctx.model}:{production}")
    if "model.onnx" not in prod.artifacts:
        return
    try:
        from neuroplast.workflows.serving_artifacts import ensure_onnx
    except ImportError:  # the portable serving path is not installed
        return
    try:
        ensure_onnx(
            ctx.registry, f"{ctx.model}:{candidate}", int8="model.int8.onnx" in prod.artifacts
        )
    except ConfigError as e:  # e.g. a statically quantized version: served by torch
        logger.info("%s:%d is served without ONNX files: %s", ctx.model, candidate, e)


def start_rollout(ctx: StepContext, production: int, candidate: int) -> None:
    """Route traffic to a candidate that passed the gate, as ``rollout.mode`` says."""
    from neuroplast.registry import promote

    policy = ctx.policy.rollout
    ref = f"{ctx.model}:{candidate}"
    ctx.report.candidate = ref
    if not ctx.dry_run:
        _prepare_serving(ctx, production, candidate)
    details: dict[str, object] = {
        "mode": policy.mode,
        "production": production,
        "candidate": candidate,
    }
    if policy.mode == "direct":
        if not ctx.dry_run:
            promote(ctx.registry, ref, "production", reason="closed loop: passed the gate")
            ctx.report.promoted = ref
        ctx.decide(
            "rollout",
            "promoted",
            f"{ref} passed the gate; rollout.mode is direct",
            details,
            action="loop_promote",
            ref=ref,
        )
        return
    if policy.mode == "ab":
        share = policy.candidate_share
        details["split"] = {str(production): 1 - share, str(candidate): share}
        words = f"A/B test: {ref} gets {share:.0%} of the requests"
    else:
        words = f"shadow: {ref} gets a copy of every request and answers none"
    ctx.decide("rollout", "started", words, details, action="loop_rollout", ref=ref)
    if ctx.dry_run:
        return
    if policy.mode == "ab":
        ctx.registry.start_ab(
            ctx.model,
            {production: 1 - policy.candidate_share, candidate: policy.candidate_share},
            sticky_key=policy.sticky_key,
            reason="closed loop: candidate passed the gate",
        )
    else:
        ctx.registry.add_shadow(ref, reason="closed loop: candidate passed the gate")
