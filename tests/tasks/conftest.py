"""Fixtures of the anomaly and forecasting tests: one torch thread, a run config built from a
shipped template with a tiny slice of its real data, and the two trained versions the
end-to-end and engine-feature tests share (one training each per session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from neuroplast.config import RunConfig, apply_overrides, parse_run_config, template_text
from neuroplast.engine import Engine
from neuroplast.tasks import TaskResult, task_handler
from tests.conftest import one_torch_thread


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


def template_config(template: str, *overrides: str) -> RunConfig:
    """The template's config with ``--set``-style overrides."""
    raw = yaml.safe_load(template_text(template))
    return parse_run_config(apply_overrides(raw, list(overrides)), where=template)


def train_into(home: Path, config: RunConfig) -> TaskResult:
    """Train ``config`` through its task handler into the registry at ``home``."""
    assert config.task is not None
    with Engine(home) as engine:
        return task_handler(config.task).train(config, engine.registry)


def task_json(result: TaskResult) -> dict[str, Any]:
    import json

    return dict(json.loads(result.version.artifacts["task.json"].path.read_text()))


#: The CO2 forecaster of the tests: 240 months, 2 folds of 12.
FORECAST_SMALL = (
    "data.limit=240",
    "forecast.lookback=24",
    "forecast.horizon=12",
    "forecast.folds=2",
    "forecast.fold_step=null",
    "train.epochs=3",
)


@pytest.fixture(scope="session")
def shuttle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TaskResult]:
    """``shuttle-ae:1``: a dense autoencoder on 1,500 Shuttle rows, 3 epochs."""
    home = tmp_path_factory.mktemp("anomaly-home")
    config = template_config(
        "anomaly-tabular",
        "data.limit=1500",
        "train.epochs=3",
        "anomaly.baselines=[isolation_forest]",
    )
    with one_torch_thread():
        return home, train_into(home, config)


@pytest.fixture(scope="session")
def co2(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TaskResult]:
    """``co2-lstm:1``: the LSTM forecaster of :data:`FORECAST_SMALL`."""
    home = tmp_path_factory.mktemp("forecast-home")
    with one_torch_thread():
        return home, train_into(home, template_config("forecast", *FORECAST_SMALL))
