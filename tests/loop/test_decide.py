"""Loop steps that train nothing: deciding a rollout the loop started (A/B and shadow) on the
feedback logged since, and leaving alone what it did not start; the one-step-at-a-time
guard; the errors and "waiting" answers of a step with nothing to do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.loop.conftest import MODEL, log_traffic, policy, reviews

from neuroplast.engine import Engine
from neuroplast.errors import ConfigError, ModelNotFoundError
from neuroplast.loop import run_loop
from neuroplast.loop._guard import loop_run_config, step_lock
from neuroplast.registry import add_event


def loop_started(engine: Engine, mode: str = "ab") -> None:
    """``rt-serve:2`` under the loop's own rollout, as a step that passed the gate leaves it."""
    details = {"mode": mode, "production": 1, "candidate": 2}
    add_event(engine.registry, f"{MODEL}:2", "loop_rollout", reason="test", details=details)
    if mode == "ab":
        engine.registry.start_ab(MODEL, {1: 0.8, 2: 0.2})
    else:
        engine.registry.add_shadow(f"{MODEL}:2")


def actions(engine: Engine) -> list[str]:
    return [e.action for e in engine.history(MODEL) if e.action.startswith("loop_")]


def ab_traffic(engine: Engine, production_right: float, candidate_right: float) -> None:
    """30 labelled A/B requests per arm, each arm right on the given share."""
    texts, labels = reviews(60, offset=500)
    for version, share, part in ((1, production_right, 0), (2, candidate_right, 1)):
        rows = slice(30 * part, 30 * (part + 1))
        truth = labels[rows]
        flip = {"fresh": "rotten", "rotten": "fresh"}
        answers = [t if i < round(share * 30) else flip[t] for i, t in enumerate(truth)]
        log_traffic(engine, version, texts[rows], truth, arm="ab", answers=answers)


def test_a_trailing_candidate_is_rolled_back_and_archived(engine: Engine) -> None:
    loop_started(engine)
    ab_traffic(engine, production_right=0.8, candidate_right=0.5)
    report = run_loop(engine.registry, MODEL, policy())
    assert (report.outcome, report.promoted) == ("rolled_back", None)
    assert "the candidate trails" in report.decisions[-1].reason
    assert not engine.registry.routing(MODEL).active
    assert engine.registry.resolve(f"{MODEL}:2").stage == "archived"
    assert engine.registry.resolve(MODEL).version == 1
    event = engine.history(MODEL)[-1]
    assert event.action == "loop_rollback" and event.version == 2
    assert event.details is not None and event.details["candidate"]["accuracy"] == 0.5
    assert {"ab_stop", "promote"} <= {e.action for e in engine.history(MODEL)[-4:]}


def test_waiting_is_written_once_and_a_timeout_rolls_back(engine: Engine) -> None:
    loop_started(engine)
    ab_traffic(engine, production_right=0.8, candidate_right=0.8)
    for _ in range(2):  # enough feedback, a tie: promote_margin 0.02 asks for more
        report = run_loop(engine.registry, MODEL, policy(decide__promote_margin=0.02))
        assert (
            report.outcome == "waiting" and "not ahead by the margin" in report.decisions[0].reason
        )
    assert actions(engine) == ["loop_rollout", "loop_wait"]
    later = datetime.now(UTC) + timedelta(hours=25)
    dry = run_loop(
        engine.registry, MODEL, policy(decide__promote_margin=0.02), dry_run=True, now=later
    )
    assert dry.outcome == "would_roll_back" and engine.registry.routing(MODEL).active
    report = run_loop(engine.registry, MODEL, policy(decide__promote_margin=0.02), now=later)
    assert report.outcome == "rolled_back" and "not better after 24h" in report.decisions[0].reason


def test_a_shadow_that_does_better_is_promoted(engine: Engine) -> None:
    loop_started(engine, mode="shadow")
    texts, labels = reviews(30, offset=600)
    flip = {"fresh": "rotten", "rotten": "fresh"}
    wrong = [t if i % 2 else flip[t] for i, t in enumerate(labels)]
    ids = log_traffic(engine, 1, texts, labels, answers=wrong)  # production: half right
    log_traffic(engine, 2, texts, [None] * 30, arm="shadow", answers=labels, ids=ids)
    report = run_loop(engine.registry, MODEL, policy())
    assert report.outcome == "promoted" and report.promoted == f"{MODEL}:2"
    assert engine.registry.routing(MODEL).shadows == ()
    assert engine.registry.resolve(MODEL).version == 2
    details = engine.history(MODEL)[-1].details or {}
    assert details["candidate"]["accuracy"] == 1.0 and details["production"]["accuracy"] == 0.5


def test_an_ab_test_ended_by_hand_or_started_by_hand(engine: Engine) -> None:
    loop_started(engine)
    engine.ab_stop(MODEL)
    report = run_loop(engine.registry, MODEL, policy())
    assert report.outcome == "ended" and "ended outside the loop" in report.decisions[0].reason
    assert actions(engine)[-1] == "loop_rollout_gone"
    engine.ab_start(MODEL, "1:0.5,2:0.5")  # someone's own test: the loop keeps out of it
    report = run_loop(engine.registry, MODEL, policy(trigger__always=True))
    assert report.outcome == "waiting" and "the loop did not start" in report.decisions[0].reason
    assert engine.registry.routing(MODEL).split == {1: 0.5, 2: 0.5}


def test_one_step_at_a_time(engine: Engine) -> None:
    with step_lock(engine.registry, MODEL):  # a step of this model runs on this machine
        report = run_loop(engine.registry, MODEL, policy())
    assert report.outcome == "busy" and "another loop step" in report.decisions[0].reason
    assert actions(engine) == []
    texts, labels = reviews(80)
    log_traffic(engine, 1, texts, labels, start=datetime.now(UTC) - timedelta(hours=1))
    run = engine.registry.start_run(MODEL, loop_run_config(MODEL))  # a live candidate run
    report = run_loop(engine.registry, MODEL, policy(trigger__always=True))
    assert report.outcome == "busy" and f"run {run.uid}" in report.decisions[-1].reason
    assert len(engine.versions(MODEL)) == 2


def test_nothing_to_do_is_waiting_and_bad_names_are_errors(engine: Engine) -> None:
    report = run_loop(engine.registry, MODEL, policy())
    assert report.outcome == "waiting" and "no traffic" in report.decisions[0].reason
    assert report.decisions[0].details["code"] == "no_traffic"
    texts, labels = reviews(120)
    log_traffic(engine, 1, texts, [*labels[:20], *[None] * 100])
    report = run_loop(engine.registry, MODEL, policy())
    assert report.outcome == "waiting"
    assert report.decisions[0].reason.startswith("nothing to learn: no drift in the newest")
    report = run_loop(engine.registry, MODEL, policy(trigger__window=500), dry_run=True)
    assert report.decisions[0].reason == (
        "nothing to learn: 120 inputs of rt-serve:1 logged, fewer than a drift window "
        "(trigger.window 500); 20 labelled inputs"
    )
    with pytest.raises(
        ModelNotFoundError,
        match=r"no model version matches 'nope' in .*; models: fm-serve, rt-serve",
    ):
        run_loop(engine.registry, "nope", policy())
    with pytest.raises(ConfigError, match="the loop runs on a model, not a version"):
        run_loop(engine.registry, f"{MODEL}:1", policy())
    engine.promote(f"{MODEL}:1", "archived")
    with pytest.raises(
        ConfigError, match=r"no production version: .*\(`neuroplast models promote rt-serve:2`\)"
    ):
        run_loop(engine.registry, MODEL, policy())


def test_drift_in_the_newest_windows_triggers_a_candidate(engine: Engine) -> None:
    """Reviews with feedback, then movie plot descriptions (no opinions: a real shift)."""
    from tests.monitoring.conftest import plot_descriptions

    texts, labels = reviews(100)
    start = datetime.now(UTC) - timedelta(hours=1)
    log_traffic(engine, 1, texts, labels, start=start)
    plots = plot_descriptions()[:200]
    log_traffic(engine, 1, plots, [None] * 200, start=start + timedelta(minutes=10))
    report = run_loop(engine.registry, MODEL, policy(trigger__window=100), dry_run=True)
    assert [(d.step, d.outcome) for d in report.decisions] == [
        ("trigger", "triggered"),
        ("update", "would_train"),
    ]
    assert report.decisions[0].reason.startswith("drift in the newest 2 window(s): ")
    drift = report.decisions[0].details["drift"]
    assert drift["alarm"] and [w["alarm"] for w in drift["newest"]] == [True, True]
    quiet = run_loop(
        engine.registry,
        MODEL,
        policy(trigger__window=100, trigger__detectors=["accuracy"]),
        dry_run=True,
    )
    assert quiet.outcome == "waiting"  # the accuracy on feedback did not move
