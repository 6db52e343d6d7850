"""Fixtures that parametrize a test over the registered architectures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from neuroplast.models import list_models
from tests.conftest import one_torch_thread


@pytest.fixture(autouse=True)
def one_thread_per_test() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(params=list_models())
def model_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=list_models("text"))
def text_model_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)
