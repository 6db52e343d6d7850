"""``__all__`` of the continual modules lists names that exist, each once."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "neuroplast.continual",
    "neuroplast.continual.api",
    "neuroplast.continual.config",
    "neuroplast.continual.learner",
    "neuroplast.continual.metrics",
    "neuroplast.continual.plots",
    "neuroplast.continual.record",
    "neuroplast.continual.reproduce",
    "neuroplast.continual.runner",
    "neuroplast.continual.sources",
    "neuroplast.continual.streams",
    "neuroplast.continual.strategies",
    "neuroplast.continual.update",
    "neuroplast.continual.workflow",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_honest(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported))
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ lists {item!r}, which does not exist"
