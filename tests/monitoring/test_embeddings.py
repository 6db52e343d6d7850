"""``monitor --embeddings minilm``: the logged texts' MiniLM sentence vectors against the
reference's, on the tiny text CNN of ``conftest`` (real reviews, real news sentences)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from neuroplast.engine import Engine
from neuroplast.errors import ConfigError
from neuroplast.monitoring.embeddings import embedding_test_name
from tests.conftest import Result
from tests.monitoring.conftest import log_stream, unseen_reviews

WINDOW = 60
SENTENCES = embedding_test_name("minilm")


def news_openings(n: int) -> list[str]:
    """The first 20 words of BBC news articles: review-sized texts on other subjects."""
    from neuroplast.data import load_builtin

    articles = load_builtin("bbc_news", limit=n, seed=0).texts
    return [" ".join(text.split()[:20]) for text in articles[:n]]


@pytest.fixture()
def engine(trained_home: Path, tmp_path: Path) -> Engine:
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    return Engine(home)


@pytest.mark.slow  # MiniLM loads and encodes ~320 short texts: 5-10 s
def test_news_in_a_review_stream_moves_the_sentence_vectors(
    engine: Engine, cli: Callable[..., Result]
) -> None:
    reviews, _ = unseen_reviews(seed=1)
    mixed = reviews[WINDOW : 2 * WINDOW]
    news = news_openings(WINDOW // 2)
    mixed[::2] = news  # every other text of the second window is news
    log_stream(engine, "rt-mon", reviews[:WINDOW] + mixed)
    report = engine.monitor("rt-mon", window=WINDOW, reference="val", embeddings="minilm")
    first, second = ({r.name: r for r in w.results} for w in report.windows)
    assert [r.name for r in report.windows[0].results][:2] == [
        "pooled features (PCA-KS)",
        SENTENCES,
    ]
    assert not first[SENTENCES].alarm and second[SENTENCES].alarm
    assert second[SENTENCES].p_value < first[SENTENCES].p_value
    # one more test in the family: each runs at alpha / 6 (Bonferroni)
    without = engine.monitor("rt-mon", window=WINDOW, reference="val", store=False)
    assert [r.name for r in without.windows[0].results] == [n for n in first if n != SENTENCES]
    assert f"{SENTENCES}, first component" in report.samples
    # the vectors came from (and stay in) the registry's cache: a second check computes none
    cached = engine.embeddings.cache_stats()
    assert cached.entries >= 200 + WINDOW + WINDOW // 2
    again = engine.monitor("rt-mon", window=WINDOW, reference="val", embeddings="minilm")
    assert engine.embeddings.cache_stats().misses == cached.misses
    assert np.isclose(again.windows[1].results[1].p_value, second[SENTENCES].p_value)
    bad = cli("monitor", "rt-mon", "--window", str(WINDOW), "--embeddings", "bert",
              "--home", str(engine.home))  # fmt: skip
    assert bad.code == 2 and "unknown encoder 'bert' for --embeddings" in bad.err


def test_an_unknown_encoder_is_refused_before_any_work(engine: Engine) -> None:
    log_stream(engine, "rt-mon", unseen_reviews()[0][:WINDOW])
    with pytest.raises(
        ConfigError, match="unknown encoder 'bert' for --embeddings; choose one of: minilm"
    ):
        engine.monitor("rt-mon", window=WINDOW, embeddings="bert")
