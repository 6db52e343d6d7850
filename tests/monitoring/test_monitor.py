"""``monitor`` end to end on a tiny text CNN trained on real reviews: the log holds unseen
reviews (no alarm), then reviews with 30 % movie plot descriptions mixed in (the alarm); and
``--embeddings minilm`` (the texts' sentence vectors) on reviews with news mixed in."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from neuroplast.engine import Engine
from neuroplast.errors import ConfigError
from neuroplast.monitoring.embeddings import embedding_test_name
from tests.conftest import Result
from tests.monitoring.conftest import log_stream, plot_descriptions, unseen_reviews

WINDOW = 200


@pytest.fixture()
def engine(trained_home: Path, tmp_path: Path) -> Engine:
    """A copy of the trained registry, so that each test logs its own traffic."""
    home = tmp_path / "home"
    shutil.copytree(trained_home, home)
    return Engine(home)


def shifted(reviews: list[str], plots: list[str], share: float, seed: int) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(seed)
    out, k = list(reviews), 0
    for i in range(len(out)):
        if rng.random() < share:
            out[i], k = plots[k], k + 1
    return out


def test_unchanged_traffic_raises_no_alarm_and_feedback_is_tracked(engine: Engine) -> None:
    reviews, labels = unseen_reviews()
    n = 2 * WINDOW
    feedback = [label if i % 2 == 0 else None for i, label in enumerate(labels[:n])]
    log_stream(engine, "rt-mon", reviews[:n], feedback=feedback)
    report = engine.monitor("rt-mon", window=WINDOW)  # against val and test together
    assert [w.alarm for w in report.windows] == [False, False]
    assert report.reference == "heldout" and report.version == "rt-mon:1"
    names = [r.name for r in report.windows[0].results]
    assert names == [
        "pooled features (PCA-KS)",
        "predicted-class mix (chi-square)",
        "confidence (KS)",
        "input length (KS)",
        "unknown-token rate (KS)",
        "accuracy (ADWIN)",
    ]
    accuracy = report.windows[0].results[-1]
    assert accuracy.detail["feedback"] == WINDOW // 2
    assert 0.5 < accuracy.statistic < 1.0  # a real model on real reviews
    # the run is stored for the dashboard, unless told not to
    (check,) = engine.registry.drift_checks("rt-mon")
    assert check.id == report.check_id and check.ref == "rt-mon:1"
    assert (check.reference, check.window, check.windows, check.alarms) == (
        "heldout",
        WINDOW,
        2,
        0,
    )
    assert check.window_alarms == [False, False] and check.report == report.to_dict()
    assert engine.monitor("rt-mon", window=WINDOW, store=False).check_id is None
    assert len(engine.registry.drift_checks("rt-mon")) == 1


def test_plot_descriptions_mixed_in_at_30_percent_raise_the_alarm(engine: Engine) -> None:
    reviews, _ = unseen_reviews()
    stream = reviews[:WINDOW] + shifted(reviews[WINDOW : 2 * WINDOW], plot_descriptions(), 0.3, 0)
    log_stream(engine, "rt-mon", stream)
    report = engine.monitor("rt-mon", window=WINDOW, reference="val")
    assert [w.alarm for w in report.windows] == [False, True]
    alarms = {r.name for r in report.windows[1].results if r.alarm}
    assert "input length (KS)" in alarms  # plot descriptions are much longer than snippets
    # the training sample sees it too (and says what it skips)
    on_train = engine.monitor("rt-mon", window=WINDOW, reference="train")
    assert on_train.reference == "train" and on_train.windows[-1].alarm
    assert any("unknown-token rate is not tested" in note for note in on_train.notes)


def test_the_cli_prints_a_table_per_window_json_and_a_self_contained_html_report(
    engine: Engine, cli: Callable[..., Result], tmp_path: Path
) -> None:
    reviews, _ = unseen_reviews()
    stream = reviews[:WINDOW] + shifted(reviews[WINDOW : 2 * WINDOW], plot_descriptions(), 0.3, 1)
    log_stream(engine, "rt-mon", stream)
    home = str(engine.home)
    page = tmp_path / "drift.html"
    args = ["monitor", "rt-mon", "--window", str(WINDOW), "--reference", "val", "--home", home]
    result = cli(*args, "--html", str(page))
    assert result.code == 0, result.err
    assert "window 0 (200 inputs" in result.out and "window 1" in result.out
    assert "confidence (KS)" in result.out and "ALARM" in result.out
    html = page.read_text()
    assert html.count("<svg") >= 3 and "Window 1" in html
    assert "src=" not in html and "<script" not in html  # nothing fetched from anywhere
    result = cli(*args, "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert payload["alarms"] == 1 and len(payload["windows"]) == 2
    assert payload["check_id"] is not None
    assert json.loads(cli(*args, "--json", "--no-store").out)["check_id"] is None
    checks = engine.registry.drift_checks("rt-mon")
    assert [c.id for c in checks] == [payload["check_id"], checks[1].id]  # newest first
    assert checks[0].window_alarms == [False, True]
    test = payload["windows"][1]["tests"][0]
    assert set(test) >= {"test", "statistic", "p_value", "alarm"}


def test_stored_checks_are_validated_and_read_back_newest_first(engine: Engine) -> None:
    from datetime import UTC, datetime, timedelta

    from neuroplast.errors import ConfigError, DataError, ModelNotFoundError

    registry = engine.registry
    base = {"version": "rt-mon:1", "reference": "val", "window": 10, "alpha": 0.05}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(3):
        windows = [{"alarm": i == 2}, {"alarm": False}]
        registry.add_drift_check({**base, "windows": windows}, at=start + timedelta(hours=i))
    checks = registry.drift_checks("rt-mon", limit=2)
    assert [c.at for c in checks] == [start + timedelta(hours=2), start + timedelta(hours=1)]
    assert [c.alarms for c in checks] == [1, 0] and checks[0].window_alarms == [True, False]
    with pytest.raises(DataError, match="needs 'windows'"):
        registry.add_drift_check(base)
    with pytest.raises(DataError, match="ref NAME:N"):
        registry.add_drift_check({**base, "version": "rt-mon", "windows": []})
    with pytest.raises(DataError, match=r"alpha must be in \(0, 1\)"):
        registry.add_drift_check({**base, "alpha": 1.5, "windows": []})
    with pytest.raises(ModelNotFoundError, match="no model named 'nope'"):
        registry.add_drift_check({**base, "version": "nope:1", "windows": []})
    with pytest.raises(ConfigError, match="limit must be an integer"):
        registry.drift_checks("rt-mon", limit=0)
    assert len(registry.drift_checks("rt-mon")) == 3  # nothing half-written by the failures


# ---- --embeddings minilm: the texts' MiniLM sentence vectors ----------------------
SMALL = 40
SENTENCES = embedding_test_name("minilm")


def news_openings(n: int) -> list[str]:
    """The first 20 words of BBC news articles: review-sized texts on other subjects."""
    from neuroplast.data import load_builtin

    articles = load_builtin("bbc_news", limit=n, seed=0).texts
    return [" ".join(text.split()[:20]) for text in articles[:n]]


@pytest.mark.slow  # MiniLM loads and encodes ~180 short texts: 5-10 s
def test_news_in_a_review_stream_moves_the_sentence_vectors(
    engine: Engine, cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("neuroplast.monitoring.reference.MAX_REFERENCE", 100)
    reviews, _ = unseen_reviews(seed=1)
    mixed = reviews[SMALL : 2 * SMALL]
    news = news_openings(SMALL // 2)
    mixed[::2] = news  # every other text of the second window is news
    log_stream(engine, "rt-mon", reviews[:SMALL] + mixed)
    report = engine.monitor("rt-mon", window=SMALL, reference="val", embeddings="minilm")
    first, second = ({r.name: r for r in w.results} for w in report.windows)
    assert [r.name for r in report.windows[0].results][:2] == [
        "pooled features (PCA-KS)",
        SENTENCES,
    ]
    assert not first[SENTENCES].alarm and second[SENTENCES].alarm
    assert second[SENTENCES].p_value < first[SENTENCES].p_value
    # one more test in the family: each runs at alpha / 6 (Bonferroni)
    without = engine.monitor("rt-mon", window=SMALL, reference="val", store=False)
    assert [r.name for r in without.windows[0].results] == [n for n in first if n != SENTENCES]
    assert f"{SENTENCES}, first component" in report.samples
    # the vectors came from (and stay in) the registry's cache: a second check computes none
    cached = engine.embeddings.cache_stats()
    assert cached.entries >= 100 + SMALL + SMALL // 2
    again = engine.monitor("rt-mon", window=SMALL, reference="val", embeddings="minilm")
    assert engine.embeddings.cache_stats().misses == cached.misses
    assert np.isclose(again.windows[1].results[1].p_value, second[SENTENCES].p_value)
    bad = cli("monitor", "rt-mon", "--window", str(SMALL), "--embeddings", "bert",
              "--home", str(engine.home))  # fmt: skip
    assert bad.code == 2 and "unknown encoder 'bert' for --embeddings" in bad.err


def test_an_unknown_encoder_is_refused_before_any_work(engine: Engine) -> None:
    log_stream(engine, "rt-mon", unseen_reviews()[0][:SMALL])
    with pytest.raises(
        ConfigError, match="unknown encoder 'bert' for --embeddings; choose one of: minilm"
    ):
        engine.monitor("rt-mon", window=SMALL, embeddings="bert")
