"""``__all__`` lists exactly the public names each package defines or re-exports on purpose."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "neuroplast",
    "neuroplast.config",
    "neuroplast.errors",
    "neuroplast.types",
    "neuroplast.engine",
    "neuroplast.data",
    "neuroplast.models",
    "neuroplast.training",
    "neuroplast.evaluation",
    "neuroplast.registry",
    "neuroplast.inference",
    "neuroplast.workflows",
    "neuroplast.tokens",
    "neuroplast.compression",
    "neuroplast.continual",
    "neuroplast.explain",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_honest(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), "duplicates in __all__"
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ names missing {item}"
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and getattr(v, "__module__", name).startswith(name)
        and not isinstance(v, type(importlib))
        and callable(v)
    }
    assert public <= set(exported), (
        f"{name} defines public names not in __all__: {public - set(exported)}"
    )


def test_errors_share_one_base() -> None:
    from neuroplast import errors

    for item in errors.__all__:
        assert issubclass(getattr(errors, item), errors.NeuroplastError)
