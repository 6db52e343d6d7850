"""The loop tests' registry: a copy of the serving tests' session home (``rt-serve:1`` in
production, ``rt-serve:2`` a candidate: text CNNs on 600 real Rotten Tomatoes reviews), and
traffic logged as ``neuroplast serve`` logs it: real unseen reviews, answered by a version's
own predictions, with feedback (the true labels) for the ones given."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import one_torch_thread
from tests.serving.fixtures import TEXT_MODEL, copy_home

from neuroplast.engine import Engine
from neuroplast.loop import LoopPolicy, load_policy

MODEL = TEXT_MODEL
_ids = itertools.count()


@pytest.fixture()
def engine(serving_template: Path, tmp_path: Path) -> Any:
    """An Engine on a fresh copy of the session's serving home (one torch thread)."""
    home = copy_home(serving_template, tmp_path / "home")
    with one_torch_thread(), Engine(home) as opened:
        yield opened


def reviews(count: int, *, offset: int = 0) -> tuple[list[str], list[str]]:
    """``count`` real reviews the models never saw, and their labels (fresh / rotten)."""
    from neuroplast.data import load_builtin

    everything = load_builtin("rotten_tomatoes")
    used = set(load_builtin("rotten_tomatoes", limit=600, seed=3).texts)
    rows = [i for i, t in enumerate(everything.texts) if t not in used][offset : offset + count]
    names = everything.label_names
    return [everything.texts[i] for i in rows], [names[everything.labels[i]] for i in rows]


def log_traffic(
    engine: Engine,
    version: int,
    texts: Sequence[str],
    feedback: Sequence[str | None],
    *,
    arm: str = "production",
    answers: Sequence[str] | None = None,
    start: datetime | None = None,
    ids: Sequence[str] | None = None,
) -> list[str]:
    """Log ``texts`` as answered by ``MODEL:version`` in ``arm`` (its own predictions, or
    ``answers``), one second apart from ``start`` (default: now), and the feedback given;
    returns the request ids (new ones, or ``ids``: a shadow's copy of those requests)."""
    ref = f"{MODEL}:{version}"
    predictions = engine.predictor(ref).predict(list(texts), top_k=2)
    start = start or datetime.now(UTC)
    ids = list(ids) if ids is not None else [f"t{next(_ids)}" for _ in texts]
    rows: list[dict[str, Any]] = [
        {
            "request_id": rid,
            "item": 0,
            "model": MODEL,
            "version": version,
            "arm": arm,
            "at": start + timedelta(seconds=i),
            "label": answers[i] if answers is not None else p.label,
            "probability": p.probability,
            "top_k": p.top_k,
            "latency_ms": 1.0,
            "input_text": text,
        }
        for i, (rid, text, p) in enumerate(zip(ids, texts, predictions, strict=True))
    ]
    engine.registry.log_predictions(rows)
    for rid, label in zip(ids, feedback, strict=True):
        if label is not None:
            engine.registry.add_feedback(rid, label)
    return ids


def policy(**overrides: Any) -> LoopPolicy:
    """A policy for the tests' small traffic (windows of 50, 60 labelled inputs to train,
    one epoch), with ``overrides`` as ``section__key=value``."""
    base: dict[str, Any] = {
        "trigger.window": 50,
        "feedback.min_labelled": 60,
        "feedback.since": "all",
        "gate.min_holdout": 10,
        "update.epochs": 1,
        "update.buffer_size": 200,
        "rollout.min_requests": 20,
        "rollout.min_feedback": 20,
    }
    base.update({k.replace("__", "."): v for k, v in overrides.items()})
    return load_policy(LoopPolicy(), base)
