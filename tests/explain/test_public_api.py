"""``__all__`` of every explain module lists exactly its public names, each once."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import neuroplast.explain

MODULES = ["neuroplast.explain"] + [
    f"neuroplast.explain.{m.name}" for m in pkgutil.iter_modules(neuroplast.explain.__path__)
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_honest(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), "duplicates in __all__"
    for item in exported:
        assert hasattr(module, item), f"{name}.__all__ lists {item!r}, which does not exist"
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and callable(v) and getattr(v, "__module__", "").startswith(name)
    }
    assert public <= set(exported), f"{name}: public but not in __all__: {public - set(exported)}"


def test_the_package_exports_every_module_api() -> None:
    for name in MODULES[1:]:
        if name.rsplit(".", 1)[-1].startswith("_"):
            continue
        for item in importlib.import_module(name).__all__:
            assert item in neuroplast.explain.__all__, f"{name}.{item} not re-exported"
