"""Fixtures of the anomaly and forecasting tests: one torch thread, and a run config built
from a shipped template with a tiny slice of its real data."""

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
