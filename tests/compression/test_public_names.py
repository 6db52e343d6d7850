"""The lazy public surfaces of compression, inference and tokens resolve every name."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "name", ["neuroplast.compression", "neuroplast.inference", "neuroplast.tokens"]
)
def test_all_names_resolve(name: str) -> None:
    module = importlib.import_module(name)
    assert len(module.__all__) == len(set(module.__all__))
    for item in module.__all__:
        assert getattr(module, item) is not None, f"{name}.{item}"
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        module.nope  # noqa: B018
