"""One torch thread per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import one_torch_thread


@pytest.fixture(autouse=True)
def one_thread_per_test() -> Iterator[None]:
    with one_torch_thread():
        yield
