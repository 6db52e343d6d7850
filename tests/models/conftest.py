"""Fixtures that parametrize a test over the registered architectures."""

from __future__ import annotations

import pytest

from neuroplast.models import list_models


@pytest.fixture(params=list_models())
def model_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=list_models("text"))
def text_model_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)
