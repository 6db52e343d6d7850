"""scipy and river, imported on first use with an install hint (the ``monitor`` extra)."""

from __future__ import annotations

import importlib
from types import ModuleType

from neuroplast.errors import ConfigError

__all__ = ["optional_module"]

HINT = "pip install 'neuroplast[monitor]'"


def optional_module(name: str) -> ModuleType:
    """``import name``, or a :class:`ConfigError` that names the extra to install."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        top = name.partition(".")[0]
        raise ConfigError(
            f"drift monitoring needs {top}, which is not installed; install it with `{HINT}`"
        ) from e
