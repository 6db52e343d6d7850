"""``__all__`` lists exactly the public names each package or module defines or re-exports on
purpose: one test, run over every public surface."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

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
    "neuroplast.continual.neuromorphic",
    "neuroplast.explain",
    "neuroplast.encoders",
    "neuroplast.tuning",
    "neuroplast.comparison",
]
CONTINUAL_MODULES = [
    f"neuroplast.continual.{name}"
    for name in (
        "api",
        "config",
        "learner",
        "metrics",
        "plots",
        "record",
        "reproduce",
        "runner",
        "sources",
        "streams",
        "strategies",
        "update",
        "workflow",
    )
]
#: Every module of these packages (private ones too) is checked, and the package re-exports
#: the ``__all__`` of each of its public modules.
WHOLE_PACKAGES = ["neuroplast.explain"]
WHOLE_PACKAGE_MODULES = [
    f"{package}.{m.name}"
    for package in WHOLE_PACKAGES
    for m in pkgutil.iter_modules(importlib.import_module(package).__path__)
]
#: Surfaces whose ``__all__`` is pinned name by name.
EXACT = {
    "neuroplast.models": {
        "ArchConfig",
        "ModelSpec",
        "count_parameters",
        "create_model",
        "get_spec",
        "list_models",
        "logits_of",
        "register_model",
        "validate_config",
    },
    "neuroplast.data": {
        "BucketBatchSampler",
        "DatasetInfo",
        "ImageData",
        "ImageDataset",
        "TextData",
        "TextDataset",
        "Tokenizer",
        "Vocabulary",
        "get_builtin_info",
        "image_loader",
        "list_builtin",
        "load_builtin",
        "load_image_folder",
        "load_table",
        "pad_collate",
        "stratified_split",
        "text_loader",
    },
}


def _defined_here(module: ModuleType, name: str) -> set[str]:
    """Public callables (functions, classes) that ``module`` defines or that come from below
    it (a package's own modules)."""
    return {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and getattr(v, "__module__", name).startswith(name)
        and not isinstance(v, ModuleType)
        and callable(v)
    }


@pytest.mark.parametrize("name", PACKAGES + CONTINUAL_MODULES + WHOLE_PACKAGE_MODULES)
def test_all_is_honest(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported)), f"duplicates in {name}.__all__"
    for item in exported:  # lazy packages resolve each name on first use
        assert getattr(module, item, None) is not None, f"{name}.__all__ lists missing {item!r}"
    assert set(exported) <= set(dir(module)), f"{name}: __all__ names dir() does not show"
    public = _defined_here(module, name)
    assert public <= set(exported), f"{name}: public but not in __all__: {public - set(exported)}"
    if name in EXACT:
        assert set(exported) == EXACT[name] and len(exported) == len(EXACT[name])
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        module.nope  # noqa: B018
    package, _, leaf = name.rpartition(".")
    if package in WHOLE_PACKAGES and not leaf.startswith("_"):
        parent = importlib.import_module(package).__all__
        missing = [item for item in exported if item not in parent]
        assert not missing, f"{name}: {missing} not re-exported by {package}"


def test_errors_share_one_base() -> None:
    from neuroplast import errors

    for item in errors.__all__:
        assert issubclass(getattr(errors, item), errors.NeuroplastError)
