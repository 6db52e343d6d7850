"""The training half of a loop step: trigger, feedback, candidate, gate, rollout."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from neuroplast.errors import NeuroplastError
from neuroplast.loop.feedback import FeedbackSet, collect_feedback
from neuroplast.loop.policy import parse_duration
from neuroplast.loop.report import StepContext
from neuroplast.loop.rollout import start_rollout
from neuroplast.loop.rules import gate_verdict
from neuroplast.loop.trigger import TriggerResult, check_drift, evaluate_trigger

if TYPE_CHECKING:
    from neuroplast.continual.update import UpdateOutcome
    from neuroplast.inference import LoadedModel
    from neuroplast.registry import VersionRecord

__all__ = ["train_step"]

logger = logging.getLogger(__name__)

_REJECTIONS = frozenset({"loop_gate_block", "loop_rollback", "loop_failed"})


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _feedback_start(ctx: StepContext, serving: VersionRecord) -> datetime | None:
    """Where the feedback starts: when the serving version took over (its promotion, else
    its creation), the whole log, or a duration back from now."""
    since = ctx.policy.feedback.since
    if since == "all":
        return None
    if since != "production":
        return ctx.now - parse_duration(since, "feedback.since")
    promoted = [
        e.at for e in ctx.events if e.stage_to == "production" and e.version == serving.version
    ]
    return _utc(promoted[-1] if promoted else serving.created_at)


def _last_rejection(ctx: StepContext) -> datetime | None:
    found = [e.at for e in ctx.loop_events() if e.action in _REJECTIONS]
    return _utc(found[-1]) if found else None


def _enough_feedback(ctx: StepContext, fs: FeedbackSet) -> str | None:
    """Why the feedback does not suffice yet (None: it does)."""
    policy = ctx.policy
    need = policy.feedback.min_labelled
    if fs.total < need:
        return f"{fs.total} of {need} labelled inputs (feedback.min_labelled)"
    rejected = _last_rejection(ctx)
    if rejected is not None and (fs.since is None or rejected > fs.since):
        fresh = sum(_utc(r.at) > rejected for r in [*fs.train, *fs.holdout])
        if fresh < need:
            return (
                f"{fresh} of {need} labelled inputs since the last rejected candidate "
                f"({rejected:%Y-%m-%d %H:%M} UTC)"
            )
    if len(fs.holdout) < policy.gate.min_holdout:
        return (
            f"{len(fs.holdout)} of {policy.gate.min_holdout} held-back labelled inputs for the "
            "gate (gate.min_holdout)"
        )
    return None


def _check(
    ctx: StepContext, serving: VersionRecord, loaded: LoadedModel
) -> tuple[FeedbackSet, TriggerResult] | None:
    """The trigger and feedback decisions; the feedback and trigger when a candidate is due."""
    policy = ctx.policy
    start = _feedback_start(ctx, serving)
    fs = collect_feedback(
        ctx.registry,
        ctx.model,
        since=start,
        max_rows=policy.feedback.max_rows,
        holdout=policy.feedback.holdout,
        known=list(loaded.meta.label_names),
        allow_new_classes=policy.update.allow_new_classes,
    )
    since = (
        None
        if policy.trigger.since is None
        else ctx.now - parse_duration(policy.trigger.since, "trigger.since")
    )
    drift = check_drift(
        ctx.registry, serving.ref, policy.trigger, since=since, store=not ctx.dry_run
    )
    trigger = evaluate_trigger(policy.trigger, drift, fs, serving.version)
    details = {**trigger.details, "feedback": fs.counts(), "serving": serving.ref}
    if not trigger.fired:
        why = drift.note or f"no drift in the newest {policy.trigger.consecutive} window(s)"
        code = "no_traffic" if drift.note and "no traffic" in drift.note else "no_trigger"
        reason = f"nothing to learn: {why}; {fs.total} labelled inputs"
        ctx.decide("trigger", "waiting", reason, {"code": code, **details}, action="loop_wait")
        return None
    short = _enough_feedback(ctx, fs)
    if short is not None:
        reason = f"{'; '.join(trigger.reasons)}; waiting for feedback: {short}"
        ctx.decide(
            "feedback", "waiting", reason, {"code": "feedback", **details}, action="loop_wait"
        )
        return None
    ctx.decide("trigger", "triggered", "; ".join(trigger.reasons), details, action="loop_trigger")
    return fs, trigger


def _train(
    ctx: StepContext, serving: VersionRecord, loaded: LoadedModel, fs: FeedbackSet, run_id: int
) -> UpdateOutcome:
    """The candidate, trained on the training share of the feedback."""
    from neuroplast.loop._update import train_candidate
    from neuroplast.loop.feedback import labelled_data

    policy = ctx.policy.update
    source = f"feedback on {ctx.model} ({len(fs.train)} labelled inputs, closed loop)"
    try:
        data = labelled_data(fs.train, loaded, source)
        outcome = train_candidate(ctx.registry, serving.ref, data, source=source, update=policy)
    except NeuroplastError as e:
        ctx.decide("update", "failed", str(e), {"error": type(e).__name__}, action="loop_failed")
        raise
    ref = outcome.version.ref
    ctx.report.candidate = ref
    details: dict[str, Any] = {
        "parent": serving.ref,
        "strategy": outcome.strategy,
        "run_id": run_id,
        "train": len(fs.train),
        "new_classes": outcome.new_classes,
        "before": outcome.before,
        "after": outcome.after,
        "seconds": round(outcome.seconds, 1),
    }
    ctx.decide(
        "update",
        "trained",
        f"{ref} learned {len(fs.train)} labelled inputs from {serving.ref} with {outcome.strategy} "
        f"in {outcome.seconds:.0f} s",
        details,
        action="loop_update",
        ref=ref,
    )
    return outcome


def _archive_orphans(ctx: StepContext) -> None:
    """Candidates an earlier step trained but never judged (its process was killed between
    the training and the gate) are archived, so none lingers as a candidate."""
    from neuroplast.registry import promote

    judged = {e.version for e in ctx.loop_events() if e.action.startswith("loop_gate_")}
    for event in ctx.loop_events():
        if event.action != "loop_update" or event.version is None or event.version in judged:
            continue
        ref = f"{ctx.model}:{event.version}"
        version = next(
            (v for v in ctx.registry.versions(ctx.model) if v.version == event.version), None
        )
        if version is None or version.stage != "candidate":
            continue
        why = "trained by a loop step that ended before its gate"
        promote(ctx.registry, ref, "archived", reason=f"closed loop: {why}")
        ctx.decide(
            "recover", "archived", f"{ref} was {why}; archived", {}, action="loop_failed", ref=ref
        )


def _gate(
    ctx: StepContext,
    serving: VersionRecord,
    loaded: LoadedModel,
    outcome: UpdateOutcome,
    fs: FeedbackSet,
) -> bool:
    """The candidate against the reference test set and production on the held-back
    feedback; a blocked candidate is archived."""
    from neuroplast.loop._update import predict_labels
    from neuroplast.loop.feedback import model_inputs
    from neuroplast.registry import promote

    ref = outcome.version.ref
    truth = [str(r.feedback) for r in fs.holdout]
    inputs = model_inputs(fs.holdout, loaded)
    production = predict_labels(ctx.registry, serving.ref, inputs)
    candidate = predict_labels(ctx.registry, ref, inputs)
    n = len(truth)
    verdict = gate_verdict(
        ctx.policy.gate,
        old_before=outcome.before["old_accuracy"],
        old_after=outcome.after["old_accuracy"],
        holdout=n,
        production=sum(p == t for p, t in zip(production, truth, strict=True)) / max(n, 1),
        candidate=sum(c == t for c, t in zip(candidate, truth, strict=True)) / max(n, 1),
    )
    if verdict.outcome == "pass":
        ctx.decide(
            "gate", "passed", verdict.reason, verdict.details, action="loop_gate_pass", ref=ref
        )
        return True
    promote(ctx.registry, ref, "archived", reason=f"closed loop gate: {verdict.reason}")
    ctx.decide(
        "gate", "blocked", verdict.reason, verdict.details, action="loop_gate_block", ref=ref
    )
    return False


def train_step(ctx: StepContext) -> None:
    """Check the trigger and the feedback; if due, train a candidate, gate it, roll it out
    (under the model's loop run lease, so that no other process does the same meanwhile)."""
    from neuroplast.inference.registered import load_registered
    from neuroplast.loop._guard import training_run

    serving, loaded = load_registered(ctx.registry, ctx.model)
    checked = _check(ctx, serving, loaded)
    if checked is None:
        return
    fs, _ = checked
    if ctx.dry_run:
        strategy = ctx.policy.update.strategy
        new = f" (new classes: {', '.join(fs.new_classes)})" if fs.new_classes else ""
        ctx.decide(
            "update",
            "trained",
            f"{serving.ref} would learn {len(fs.train)} labelled inputs with {strategy}{new}",
            {"strategy": strategy, "train": len(fs.train)},
        )
        return
    with training_run(ctx.registry, ctx.model) as run_id:
        _archive_orphans(ctx)
        outcome = _train(ctx, serving, loaded, fs, run_id)
        if _gate(ctx, serving, loaded, outcome, fs):
            start_rollout(ctx, serving.version, outcome.version.version)
