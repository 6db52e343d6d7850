"""The gate and the rollout decision on fixed numbers (no model): each rule, its edges,
and the p-value against a hand computation."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from neuroplast.loop import ArmNumbers, LoopPolicy, gate_verdict, rollout_verdict
from neuroplast.loop.rules import one_sided_p

GATE = LoopPolicy().gate  # max_old_drop 0.02, min_gain 0.01, min_holdout 30


def gate(**numbers: float) -> str:
    values = {"old_before": 0.90, "old_after": 0.89, "holdout": 100, "production": 0.70}
    values.update(numbers)
    candidate = values.pop("candidate", 0.80)
    return gate_verdict(GATE, candidate=candidate, **values).outcome  # type: ignore[arg-type]


def test_gate_passes_a_candidate_that_keeps_the_old_and_beats_production() -> None:
    verdict = gate_verdict(
        GATE, old_before=0.90, old_after=0.885, holdout=100, production=0.70, candidate=0.80
    )
    assert verdict.outcome == "pass"
    assert verdict.details["reference_drop"] == pytest.approx(0.015)
    assert verdict.details["holdout_gain"] == pytest.approx(0.10)


@pytest.mark.parametrize(
    ("numbers", "outcome"),
    [
        ({"old_after": 0.88}, "pass"),  # exactly 2 points lost: allowed
        ({"old_after": 0.879}, "block"),  # 2.1 points: forgets
        ({"candidate": 0.71}, "pass"),  # exactly the 1-point margin
        ({"candidate": 0.705}, "block"),  # ahead, but by less than the margin
        ({"candidate": 0.65}, "block"),  # behind production
        ({"holdout": 29}, "block"),  # too few held-back inputs to judge
    ],
)
def test_gate_edges(numbers: dict[str, float], outcome: str) -> None:
    assert gate(**numbers) == outcome


def test_gate_names_every_failure() -> None:
    verdict = gate_verdict(
        GATE, old_before=0.9, old_after=0.5, holdout=10, production=0.8, candidate=0.6
    )
    assert verdict.outcome == "block"
    assert "forgets" in verdict.reason and "does not beat production" in verdict.reason
    assert "gate.min_holdout 30" in verdict.reason


def decide(
    production: tuple[int, int, float | None],
    candidate: tuple[int, int, float | None],
    hours: float = 1.0,
    **decide_keys: float | None,
) -> str:
    policy = LoopPolicy.model_validate(
        {
            "rollout": {"min_requests": 100, "min_feedback": 50, "max_duration": "24h"},
            "decide": decide_keys,
        }
    )
    return rollout_verdict(
        policy.rollout,
        policy.decide,
        production=ArmNumbers(1, *production),
        candidate=ArmNumbers(2, *candidate),
        elapsed=timedelta(hours=hours),
    ).outcome


def test_rollout_waits_for_enough_requests_and_feedback_per_arm() -> None:
    assert decide((500, 200, 0.70), (99, 60, 0.90)) == "wait"  # candidate: 99 requests
    assert decide((500, 49, 0.70), (120, 60, 0.90)) == "wait"  # production: 49 labelled
    assert decide((500, 200, 0.70), (120, 60, 0.90)) == "promote"


def test_rollout_promotes_rolls_back_or_waits_by_the_margins() -> None:
    assert decide((500, 200, 0.70), (120, 60, 0.70)) == "promote"  # margin 0: a tie promotes
    assert decide((500, 200, 0.70), (120, 60, 0.66), promote_margin=0.0) == "wait"
    assert decide((500, 200, 0.70), (120, 60, 0.64)) == "rollback"  # trails by > 5 points
    assert decide((500, 200, 0.70), (120, 60, 0.72), promote_margin=0.05) == "wait"


def test_rollout_at_max_duration_decides_on_what_there_is() -> None:
    assert decide((500, 200, 0.70), (120, 60, 0.68), hours=24) == "rollback"  # not better
    assert decide((500, 200, 0.70), (120, 60, 0.75), hours=24) == "promote"
    assert decide((500, 200, 0.70), (10, 3, 0.99), hours=25) == "rollback"  # too little


def test_rollout_with_alpha_needs_a_significant_gain() -> None:
    assert decide((500, 60, 0.70), (120, 60, 0.75), alpha=0.05) == "wait"  # p ~ 0.27
    assert decide((5000, 2000, 0.70), (1200, 1000, 0.80), alpha=0.05) == "promote"


def test_one_sided_p_matches_a_hand_computed_z_test() -> None:
    prod, cand = ArmNumbers(1, 100, 100, 0.60), ArmNumbers(2, 100, 100, 0.70)
    pooled = 0.65
    z = 0.10 / math.sqrt(pooled * (1 - pooled) * (2 / 100))  # 1.4825
    assert one_sided_p(prod, cand) == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))
    assert one_sided_p(prod, cand) == pytest.approx(0.0691, abs=1e-4)
    assert one_sided_p(prod, ArmNumbers(2, 0, 0, None)) is None


def test_decision_numbers_are_made_json_safe() -> None:
    import json
    from datetime import UTC, datetime

    import numpy as np

    from neuroplast.loop.report import Decision

    details = {"acc": np.float32(0.5), "n": np.int64(3), "curve": np.arange(2), "p": math.nan}
    decision = Decision("gate", "passed", "ok", {**details, "at": datetime(2026, 1, 1, tzinfo=UTC)})
    assert json.loads(json.dumps(decision.to_dict()))["details"] == {
        "acc": 0.5,
        "n": 3,
        "curve": [0, 1],
        "p": None,
        "at": "2026-01-01T00:00:00+00:00",
    }
