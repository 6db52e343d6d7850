"""Tiny real tuning runs: the text CNN on 600 Rotten Tomatoes reviews (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.conftest import small_text_config

#: A space where one learning rate learns and the other barely moves: the pruner has
#: something to stop.
PRUNABLE_SPACE = {
    "params": {
        "train.optimizer.lr": {"type": "categorical", "choices": [0.01, 1.0e-7]},
        "model.dropout": {"type": "float", "low": 0.1, "high": 0.5},
    }
}


def tune_config(name: str = "rt-tune", epochs: int = 3) -> dict[str, Any]:
    config = small_text_config(name, epochs=epochs)
    config["data"]["limit"] = 400
    return config


def write_yaml(path: Path, payload: Any) -> Path:
    path.write_text(yaml.safe_dump(payload))
    return path
