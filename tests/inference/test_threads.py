"""How many intra-op threads a backend takes when the caller does not say."""

from __future__ import annotations

import pytest

from neuroplast.inference import base
from neuroplast.inference.onnx_predictor import session_options


def test_omp_num_threads_caps_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_cores", lambda: 8)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert base.physical_cores() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert base.physical_cores() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "64")  # asks for more than there are: the cores
    assert base.physical_cores() == 8


@pytest.mark.parametrize("value", ["", "0", "-2", "four", " "])
def test_an_unusable_omp_num_threads_is_ignored(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setattr(base, "_cores", lambda: 6)
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    assert base.physical_cores() == 6
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert base.physical_cores() == 6


def test_onnx_sessions_keep_to_omp_num_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_cores", lambda: 4)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert session_options().intra_op_num_threads == 1  # type: ignore[attr-defined]
    assert session_options(3).intra_op_num_threads == 3  # type: ignore[attr-defined]
