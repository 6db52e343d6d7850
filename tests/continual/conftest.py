"""One torch thread per test, and skips for Debian data sets that need root to install."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch

from neuroplast.data import get_builtin_info


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def require_builtin(name: str) -> None:
    """Skip outside CI when a Debian data set is absent; under CI (CI=true) fail instead."""
    if not get_builtin_info(name).installed():
        if os.environ.get("CI"):
            pytest.fail(f"{name} must be installed in CI (make data-debian)")
        pytest.skip(f"{name} is not installed (sudo make data-debian)")
