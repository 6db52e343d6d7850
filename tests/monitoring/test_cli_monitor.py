"""``neuroplast monitor``'s errors: one line each, with the exit code of its class."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from neuroplast.engine import Engine
from tests.conftest import Result, small_text_config
from tests.monitoring.conftest import log_stream, unseen_reviews


@pytest.fixture()
def home(trained_home: Path, tmp_path: Path) -> str:
    path = tmp_path / "home"
    shutil.copytree(trained_home, path)
    return str(path)


def test_an_unknown_model(home: str, cli: Callable[..., Result]) -> None:
    result = cli("monitor", "nope", "--home", home)
    assert result.code == 4 and "no model" in result.err and "nope" in result.err


def test_no_traffic_logged_yet(home: str, cli: Callable[..., Result]) -> None:
    result = cli("monitor", "rt-mon", "--home", home)
    assert result.code == 3
    assert "no traffic of rt-mon is logged" in result.err and "neuroplast serve" in result.err


def test_a_window_bigger_than_the_log(home: str, cli: Callable[..., Result]) -> None:
    log_stream(Engine(home), "rt-mon", unseen_reviews()[0][:30])
    result = cli("monitor", "rt-mon", "--home", home)
    assert result.code == 2
    assert "--window 500 is bigger than the log: 30 inputs of rt-mon:1" in result.err
    result = cli("monitor", "rt-mon", "--since", "1m", "--home", home)
    assert result.code == 3 and "no traffic of rt-mon is logged since" in result.err


def test_bad_options(home: str, cli: Callable[..., Result]) -> None:
    log_stream(Engine(home), "rt-mon", unseen_reviews()[0][:20])
    result = cli("monitor", "rt-mon", "--window", "10", "--reference", "prod", "--home", home)
    assert result.code == 2 and "--reference must be one of train, val, test" in result.err
    result = cli("monitor", "rt-mon", "--since", "yesterday", "--home", home)
    assert result.code == 2 and "neither a time ago" in result.err


def test_a_version_whose_data_cannot_be_rebuilt(tmp_path: Path, cli: Callable[..., Result]) -> None:
    reviews, labels = unseen_reviews()
    csv = tmp_path / "reviews.csv"
    pd.DataFrame({"text": reviews[:300], "label": labels[:300]}).to_csv(csv, index=False)
    config = small_text_config("from-file", epochs=1)
    config["data"] = {"path": str(csv), "max_length": 40}
    home = tmp_path / "home"
    with Engine(home) as engine:
        engine.train(config)
        log_stream(engine, "from-file", reviews[300:320])
    csv.unlink()  # the training file is gone
    result = cli("monitor", "from-file", "--window", "10", "--home", str(home))
    assert result.code == 3
    assert "the val split of from-file:1 cannot be rebuilt" in result.err
