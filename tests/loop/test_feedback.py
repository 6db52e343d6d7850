"""The loop's labelled data: the held-back share is stable and the size it says, labels
the model lacks are dropped or kept as new classes, and a candidate learns a new class from
feedback in memory (the output layer grows, the old classes come first)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from tests.loop.conftest import MODEL, reviews

from neuroplast.engine import Engine
from neuroplast.errors import DataError
from neuroplast.loop import LoopPolicy, load_policy
from neuroplast.loop._update import train_candidate
from neuroplast.loop.feedback import collect_feedback, held_back, labelled_data
from neuroplast.registry.traffic import PredictionRecord


def record(i: int, text: str, feedback: str | None, version: int = 1) -> PredictionRecord:
    return PredictionRecord(
        id=i,
        request_id=f"r{i}",
        item=0,
        model=MODEL,
        version=version,
        arm="production",
        at=datetime(2026, 12, 1, tzinfo=UTC),
        input_text=text,
        input_sha256=None,
        thumbnail=None,
        label="fresh",
        probability=0.9,
        top_k=[("fresh", 0.9)],
        latency_ms=1.0,
        feedback=feedback,
    )


class LogOf:
    """What ``collect_feedback`` reads of a registry: ``predictions``."""

    def __init__(self, rows: list[PredictionRecord]) -> None:
        self.rows = rows

    def predictions(self, model: str, **_: Any) -> list[PredictionRecord]:
        return list(self.rows)


def test_the_held_back_share_is_stable_and_of_the_size_asked() -> None:
    picks = [held_back(f"req-{i}", 0, 0.25) for i in range(20_000)]
    assert sum(picks) / len(picks) == pytest.approx(0.25, abs=0.01)
    assert picks == [held_back(f"req-{i}", 0, 0.25) for i in range(20_000)]
    assert held_back("req-1", 0, 0.25) is not held_back("req-1", 0, 0.0)


def test_labels_the_model_lacks_are_dropped_or_kept_as_new_classes() -> None:
    rows = [record(i, f"text {i}", label) for i, label in enumerate(["fresh", "plot", None] * 20)]
    log: Any = LogOf(rows)
    args: dict[str, Any] = {"since": None, "max_rows": 1000, "holdout": 0.25}
    kept = collect_feedback(log, MODEL, **args, known=["rotten", "fresh"], allow_new_classes=True)
    assert (kept.total, kept.new_classes, kept.dropped) == (40, ["plot"], 0)
    dropped = collect_feedback(
        log, MODEL, **args, known=["rotten", "fresh"], allow_new_classes=False
    )
    assert (dropped.total, dropped.new_classes, dropped.dropped) == (20, [], 20)
    assert dropped.counts()["classes"] == {"fresh": 20}
    newest = collect_feedback(
        log, MODEL, **{**args, "max_rows": 5}, known=["fresh"], allow_new_classes=True
    )
    assert newest.total == 5 and newest.counts()["classes"] == {"fresh": 3, "plot": 2}


def test_a_candidate_learns_a_new_class_from_feedback(engine: Engine) -> None:
    from neuroplast.inference.registered import load_registered

    texts, labels = reviews(60)
    given = [*labels[:40], *["plot"] * 20]  # 20 rows users labelled with a class it lacks
    rows = [record(i, t, label) for i, (t, label) in enumerate(zip(texts, given, strict=True))]
    _, loaded = load_registered(engine.registry, f"{MODEL}:1")
    data = labelled_data(rows, loaded, "test feedback")
    assert data.label_names[-1] == "plot" and set(data.label_names[:-1]) <= {"rotten", "fresh"}
    policy: LoopPolicy = load_policy(LoopPolicy(), {"update.epochs": 1, "update.buffer_size": 100})
    outcome = train_candidate(
        engine.registry, f"{MODEL}:1", data, source="test feedback", update=policy.update
    )
    assert outcome.new_classes == ["plot"]
    assert outcome.version.metrics["new_classes"] == ["plot"]
    predictor = engine.predictor(outcome.version.ref)
    assert predictor.label_names == ["rotten", "fresh", "plot"]
    refused = load_policy(policy, {"update.allow_new_classes": False})
    with pytest.raises(DataError, match="classes rt-serve:1 does not know: plot"):
        train_candidate(engine.registry, f"{MODEL}:1", data, source="x", update=refused.update)
