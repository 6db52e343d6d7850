"""The shipped MiniLM, loaded once for the encoder tests (transformers' import and the read
of the weights take 7-15 s on a busy machine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    from neuroplast.models.minilm_weights import minilm_path

    return minilm_path()


@pytest.fixture(scope="session")
def bert() -> Any:
    """The BertModel of the encoder the service uses (loaded once per process)."""
    from neuroplast.encoders.sentence import get_encoder

    return get_encoder("minilm").model
