"""neuroplast: a deep learning engine for models that keep learning.

The Python API is the :class:`Engine`; the CLI is ``neuroplast``. Importing this package
creates nothing (no engine, no database connection, no thread) and loads the heavy parts
(PyTorch, Lightning Fabric) only when one of the names below is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast._lazy import lazy_exports as _lazy_exports
from neuroplast._version import __version__

if TYPE_CHECKING:
    from neuroplast.engine import Engine, get_default_engine, set_default_engine
    from neuroplast.errors import NeuroplastError
    from neuroplast.types import ModelMetrics, ModelType, TaskType

__all__ = [
    "Engine",
    "ModelMetrics",
    "ModelType",
    "NeuroplastError",
    "TaskType",
    "__version__",
    "get_default_engine",
    "set_default_engine",
]

_HOMES = {
    "Engine": "neuroplast.engine",
    "get_default_engine": "neuroplast.engine",
    "set_default_engine": "neuroplast.engine",
    "NeuroplastError": "neuroplast.errors",
    "ModelMetrics": "neuroplast.types",
    "ModelType": "neuroplast.types",
    "TaskType": "neuroplast.types",
}


__getattr__, __dir__ = _lazy_exports(__name__, _HOMES, __all__)
