"""``monitor`` end to end on a tiny text CNN trained on real reviews: the log holds unseen
reviews (no alarm), then reviews with 30 % movie plot descriptions mixed in (the alarm)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from neuroplast.engine import Engine
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
    report = engine.monitor("rt-mon", window=WINDOW)  # against the val split
    assert [w.alarm for w in report.windows] == [False, False]
    assert report.reference == "val" and report.version == "rt-mon:1"
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
    test = payload["windows"][1]["tests"][0]
    assert set(test) >= {"test", "statistic", "p_value", "alarm"}
