"""Fixtures of the text-generation tests: one torch thread, a tiny real text file, and
fortunes slices (Debian's package; skipped outside CI when absent, as other Debian data)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from neuroplast.tasks.generation.corpus import FORTUNES_DIR, fortune_documents
from tests.conftest import _missing, one_torch_thread


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


def require_fortunes() -> None:
    if not FORTUNES_DIR.is_dir():
        _missing("Debian data set fortunes", "package fortunes")


@pytest.fixture(scope="session")
def fortunes_slice() -> list[str]:
    """120 real fortunes (the first of each file and the rest in file order)."""
    require_fortunes()
    return fortune_documents()[:120]


@pytest.fixture()
def text_file(tmp_path: Path, fortunes_slice: list[str]) -> Path:
    """A text file of 120 fortunes, one document per paragraph (blank-line separated)."""
    path = tmp_path / "quotes.txt"
    path.write_text("\n\n".join(d.replace("\n\n", "\n") for d in fortunes_slice) + "\n")
    return path
