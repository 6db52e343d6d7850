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
    assert "the heldout split of from-file:1 cannot be rebuilt" in result.err


def test_a_model_trained_on_the_callers_own_loaders_has_no_split_to_rebuild(
    tmp_path: Path, cli: Callable[..., Result]
) -> None:
    from datetime import UTC, datetime

    import numpy as np

    from neuroplast.serving.predlog import thumbnail_data_url
    from neuroplast.types import ModelType, TaskType

    home = tmp_path / "home"
    with Engine(home) as engine:
        model_id = engine.model_manager.create_model(
            "api-img",
            ModelType.MLP,
            TaskType.IMAGE_CLASSIFICATION,
            {"num_classes": 2, "image_size": 8, "in_channels": 1, "hidden_dim": 8},
        )
        engine.model_manager.save_model(model_id)
        image = np.full((1, 8, 8), 7, dtype=np.uint8)
        engine.registry.log_predictions(
            [
                {
                    "request_id": f"q{i}",
                    "item": 0,
                    "model": "api-img",
                    "version": 1,
                    "arm": "production",
                    "at": datetime.now(UTC),
                    "label": "0",
                    "probability": 0.6,
                    "top_k": [["0", 0.6]],
                    "latency_ms": 1.0,
                    "input_sha256": "0" * 64,
                    "thumbnail": thumbnail_data_url(image),
                }
                for i in range(6)
            ]
        )
    result = cli("monitor", "api-img", "--window", "3", "--home", str(home))
    assert result.code == 3
    assert "trained on data neuroplast did not load" in result.err
    assert "its heldout split cannot be rebuilt" in result.err
