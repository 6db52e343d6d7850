"""One torch thread per test, and skips for Debian data sets that need root to install."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from neuroplast.data import get_builtin_info
from tests.conftest import one_torch_thread


@pytest.fixture(autouse=True)
def one_thread_per_test() -> Iterator[None]:
    with one_torch_thread():
        yield


def require_builtin(name: str) -> None:
    """Skip outside CI when a Debian data set is absent; under CI (CI=true) fail instead."""
    if not get_builtin_info(name).installed():
        if os.environ.get("CI"):
            pytest.fail(f"{name} must be installed in CI (make data-debian)")
        pytest.skip(f"{name} is not installed (sudo make data-debian)")
