"""Fixtures that parametrize a test over the registered architectures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from neuroplast.models import list_models


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Run on one thread: these models are tiny, and on a busy 2-core machine two threads per
    test process made the suite over 20x slower (threads spinning for a core)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(params=list_models())
def model_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=list_models("text"))
def text_model_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)
