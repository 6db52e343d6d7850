"""``run_loop``: one step of the closed loop's state machine over the registry.

Each call looks at the registry and does the one thing that is due, then returns:

1. a rollout the loop started is running (its A/B test, or its shadow): decide it --
   promote the candidate, roll it back (stop the test, archive the candidate) or wait;
2. otherwise: test the serving version's newest traffic for drift and count the feedback;
   when the policy's trigger fires and the feedback suffices, train a candidate on it
   (``continual update``), gate it (reference test set + held-back feedback), and start its
   rollout -- or record why not.

Every decision is in the returned :class:`LoopReport` and, unless ``dry_run``, an audit
event ``loop_*`` with its numbers (``neuroplast models history MODEL``). A dry run reads
the same state through a read-only view of the registry and says what it would do: it
cannot write anything, not even the drift reference a first check stores. One step runs
at a time per model (``_guard``): a second one answers "busy".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from neuroplast.errors import ConfigError
from neuroplast.loop.policy import LoopPolicy, load_policy
from neuroplast.loop.report import Decision, LoopReport, StepContext

if TYPE_CHECKING:
    from neuroplast.registry import Registry

__all__ = ["run_loop"]

logger = logging.getLogger(__name__)


def _one_step(ctx: StepContext) -> None:
    from neuroplast.loop.rollout import current_rollout, decide_rollout
    from neuroplast.loop.step import train_step

    rollout = current_rollout(ctx)
    if rollout is not None:
        decide_rollout(ctx, rollout)
        return
    routing = ctx.registry.routing(ctx.model)
    if routing.active:
        split = ", ".join(f"{ctx.model}:{v} {w:.0%}" for v, w in routing.split.items())
        ctx.decide(
            "rollout",
            "waiting",
            f"an A/B test the loop did not start runs ({split}); the loop waits until it is "
            f"stopped (`neuroplast ab stop {ctx.model}`)",
            {"code": "foreign_ab", "split": {str(v): w for v, w in routing.split.items()}},
            action="loop_wait",
        )
        return
    train_step(ctx)


@contextmanager
def _read_only(registry: Registry) -> Iterator[Registry]:
    """The same registry opened read-only: a dry run cannot write anything, not even the
    drift reference or check that a real step keeps."""
    if registry.read_only:
        yield registry
        return
    from neuroplast.registry import Registry as Opened

    view = Opened(
        registry.home,
        url=registry.url,
        artifact_url=registry.artifact_store.url,
        read_only=True,
    )
    try:
        yield view
    finally:
        view.close()


def run_loop(
    registry: Registry,
    model: str,
    policy: LoopPolicy | str | Path,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> LoopReport:
    """Run one step of the closed loop on ``model`` (a model name) under ``policy`` (a
    :class:`LoopPolicy` or a ``loop.yaml`` path); ``now`` stands in for the clock (tests,
    simulations). Returns what was decided."""
    from neuroplast.loop._guard import Busy, step_lock

    if not isinstance(model, str) or not model or ":" in model or "@" in model:
        name = str(model).partition(":")[0].partition("@")[0]
        raise ConfigError(
            f"the loop runs on a model, not a version: name it ({name!r}), and the loop "
            "finds its serving version"
        )
    checked = load_policy(policy)
    serving = registry.resolve(model)  # an unknown model fails here, with the known ones
    if serving.stage != "production":
        raise ConfigError(
            f"{model} has no production version: with none, its newest version answers, so "
            "a candidate would serve every request before any gate; promote the version you "
            f"serve first (`neuroplast models promote {serving.ref}`)"
        )
    moment = now or datetime.now(UTC)
    if dry_run:
        with _read_only(registry) as view:
            ctx = StepContext(view, model, checked, dry_run=True, now=moment)
            _one_step(ctx)
        return ctx.report
    registry.require_writable("run the closed loop")
    try:
        with step_lock(registry, model):
            ctx = StepContext(registry, model, checked, dry_run=False, now=moment)
            try:
                _one_step(ctx)
            except Busy as e:  # another process trains a candidate of this model
                ctx.decide("guard", "busy", str(e))
    except Busy as e:  # another step of this model runs on this machine
        report = LoopReport(model=model)
        report.decisions.append(Decision("guard", "busy", str(e)))
        return report
    logger.info("loop %s: %s", model, ctx.report.outcome)
    return ctx.report
