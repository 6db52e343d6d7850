"""The closed loop end to end on the registry: real text CNNs, real logged reviews and
feedback, real candidates trained by ``continual update``, real A/B routing.

- a dry run changes nothing; the same step then trains, gates and starts an A/B test; the
  next steps wait for evidence and then promote on the A/B feedback;
- a ``naive`` candidate that forgets is stopped by the gate (archived) and the loop then
  waits for fresh feedback instead of retraining on the same data;
- an image model learns from the images read back from the log's thumbnails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.conftest import load_debian_data
from tests.loop.conftest import MODEL, log_traffic, policy, reviews
from tests.serving.fixtures import IMAGE_MODEL

from neuroplast.engine import Engine
from neuroplast.loop import run_loop
from neuroplast.loop.feedback import held_back
from neuroplast.registry import add_event


def state(engine: Engine) -> dict[str, Any]:
    """Everything a loop step could change."""
    from neuroplast.registry.pages import runs_page

    registry = engine.registry
    return {
        "events": [(e.action, e.version, e.details) for e in registry_history(engine)],
        "versions": [(v.version, v.stage, sorted(v.artifacts)) for v in engine.versions(MODEL)],
        "routing": registry.routing(MODEL),
        "runs": [(r.id, r.status) for r in runs_page(registry, 1).items],
        "checks": len(registry.drift_checks(MODEL)) if hasattr(registry, "drift_checks") else 0,
    }


def registry_history(engine: Engine) -> list[Any]:
    return engine.history(MODEL)


def loop_events(engine: Engine) -> list[Any]:
    return [e for e in engine.history(MODEL) if e.action.startswith("loop_")]


@pytest.mark.slow
def test_dry_run_then_train_gate_ab_and_promote_on_the_ab_feedback(engine: Engine) -> None:
    texts, labels = reviews(200)
    ids = log_traffic(engine, 1, texts, labels, start=datetime.now(UTC) - timedelta(hours=1))
    accept = policy(trigger__always=True, gate__min_gain=-1.0, gate__max_old_drop=1.0)
    # a step that was killed after training rt-serve:2, before its gate
    add_event(engine.registry, f"{MODEL}:2", "loop_update", reason="test", details={})
    before = state(engine)

    dry = run_loop(engine.registry, MODEL, accept, dry_run=True)
    assert [(d.step, d.outcome) for d in dry.decisions] == [
        ("trigger", "triggered"),
        ("update", "would_train"),
    ]
    assert dry.dry_run and dry.candidate is None
    assert state(engine) == before

    step = run_loop(engine.registry, MODEL, accept)
    assert [(d.step, d.outcome) for d in step.decisions] == [
        ("trigger", "triggered"),
        ("recover", "archived"),  # the killed step's candidate
        ("update", "trained"),
        ("gate", "passed"),
        ("rollout", "started"),
    ]
    assert step.candidate == f"{MODEL}:3" and step.promoted is None
    assert engine.registry.routing(MODEL).split == {1: 0.8, 3: 0.2}
    events = {e.action: e for e in loop_events(engine)}
    assert set(events) == {
        "loop_trigger",
        "loop_failed",
        "loop_update",
        "loop_gate_pass",
        "loop_rollout",
    }
    assert engine.registry.resolve(f"{MODEL}:2").stage == "archived"
    gate = events["loop_gate_pass"].details or {}
    assert gate == step.decisions[3].details | {"step": "gate", "outcome": "passed"}
    assert gate["holdout"] == sum(held_back(rid, 0, accept.feedback.holdout) for rid in ids)
    assert 0 <= gate["reference_after"] <= 1 and gate["holdout"] >= 10
    assert events["loop_update"].details["parent"] == f"{MODEL}:1"  # type: ignore[index]
    assert engine.registry.resolve(f"{MODEL}:3").parent == f"{MODEL}:1"

    waiting = run_loop(engine.registry, MODEL, accept)  # the A/B runs: no second candidate
    assert (waiting.decisions[-1].step, waiting.outcome) == ("rollout", "waiting")
    assert "collecting evidence" in waiting.decisions[-1].reason
    assert len(engine.versions(MODEL)) == 3

    ab_texts, ab_labels = reviews(60, offset=300)
    wrong = ["fresh" if label == "rotten" else "rotten" for label in ab_labels]
    half = [w if i % 2 else t for i, (w, t) in enumerate(zip(wrong, ab_labels, strict=True))]
    log_traffic(engine, 1, ab_texts[:30], ab_labels[:30], arm="ab", answers=half[:30])
    log_traffic(engine, 3, ab_texts[30:], ab_labels[30:], arm="ab", answers=ab_labels[30:])
    decided = run_loop(engine.registry, MODEL, accept)
    assert decided.outcome == "promoted" and decided.promoted == f"{MODEL}:3"
    assert not engine.registry.routing(MODEL).active
    assert engine.registry.resolve(MODEL).version == 3
    promote = loop_events(engine)[-1]
    assert promote.action == "loop_promote" and promote.version == 3
    assert promote.details["candidate"]["accuracy"] == 1.0  # type: ignore[index]
    assert promote.details["production"]["accuracy"] == 0.5  # type: ignore[index]


@pytest.mark.slow
def test_a_naive_candidate_that_forgets_is_stopped_by_the_gate(engine: Engine) -> None:
    texts, _ = reviews(240)
    rotten = ["rotten"] * len(texts)  # the world turned sour: only bad reviews come back
    log_traffic(engine, 1, texts, rotten, start=datetime.now(UTC) - timedelta(hours=1))
    naive = policy(trigger__always=True, update__strategy="naive", update__epochs=5)

    step = run_loop(engine.registry, MODEL, naive)
    assert [(d.step, d.outcome) for d in step.decisions][-1] == ("gate", "blocked")
    blocked = step.decisions[-1]
    assert "forgets" in blocked.reason
    assert blocked.details["reference_drop"] > naive.gate.max_old_drop
    assert engine.registry.resolve(f"{MODEL}:3").stage == "archived"
    assert not engine.registry.routing(MODEL).active
    assert engine.registry.resolve(MODEL).version == 1
    assert [e.action for e in loop_events(engine)][-1] == "loop_gate_block"

    again = run_loop(engine.registry, MODEL, naive)  # same feedback: no second candidate
    assert again.outcome == "waiting"
    assert "since the last rejected candidate" in again.decisions[-1].reason
    assert len(engine.versions(MODEL)) == 3


def test_an_image_model_learns_from_its_logged_thumbnails(engine: Engine) -> None:
    """Fashion-MNIST (28 px: the log's PNG thumbnails are the served images, exactly) and a
    class name an image folder could not hold (T-shirt/top)."""
    import numpy as np

    from neuroplast.serving.predlog import thumbnail_data_url

    data = load_debian_data("fashion_mnist")
    rows = np.flatnonzero(data.test_mask)[:120]
    images, truth = data.images[rows], [data.label_names[c] for c in data.labels[rows]]
    answers = engine.predictor(f"{IMAGE_MODEL}:1").predict(images, top_k=2)
    start = datetime.now(UTC) - timedelta(hours=1)
    engine.registry.log_predictions(
        [
            {
                "request_id": f"img{i}",
                "item": 0,
                "model": IMAGE_MODEL,
                "version": 1,
                "arm": "production",
                "at": start + timedelta(seconds=i),
                "label": p.label,
                "probability": p.probability,
                "top_k": p.top_k,
                "latency_ms": 1.0,
                "input_sha256": f"{i:064x}",
                "thumbnail": thumbnail_data_url(image),
            }
            for i, (image, p) in enumerate(zip(images, answers, strict=True))
        ]
    )
    for i, label in enumerate(truth):
        engine.registry.add_feedback(f"img{i}", label)
    accept = policy(trigger__always=True, gate__min_gain=-1.0, gate__max_old_drop=1.0)

    step = run_loop(engine.registry, IMAGE_MODEL, accept)
    assert [(d.step, d.outcome) for d in step.decisions][-1] == ("rollout", "started")
    candidate = engine.registry.resolve(f"{IMAGE_MODEL}:2")
    assert candidate.parent == f"{IMAGE_MODEL}:1" and candidate.modality == "image"
    update = step.decisions[1].details
    assert update["train"] + step.decisions[2].details["holdout"] == 120
    assert "T-shirt/top" in step.decisions[0].details["feedback"]["classes"]
