"""The shipped MiniLM, loaded once for the encoder tests (transformers' import and the read
of the weights take about 7 s)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    from neuroplast.encoders.minilm import minilm_path

    return minilm_path()


@pytest.fixture(scope="session")
def bert(minilm_dir: Path) -> Any:
    from neuroplast.encoders.minilm import load_bert

    return load_bert(minilm_dir)
