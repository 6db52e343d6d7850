"""Helpers of the CLI tests (the ``cli`` fixture and ``Result`` live in tests/conftest.py)."""

from pathlib import Path

import yaml


def write_config(path: Path, config: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path
