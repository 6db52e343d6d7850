"""neuroplast: a deep learning engine for models that keep learning.

The Python API is the :class:`Engine`; the CLI is ``neuroplast``. Importing this package
creates nothing: no engine, no database connection, no thread.
"""

from neuroplast._version import __version__
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
