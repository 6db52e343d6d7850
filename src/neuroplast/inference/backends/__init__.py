"""The Predictor backends, one per file; each registers itself with
:func:`neuroplast.inference.register_backend`. Every module here is imported when the
registry is first read, so that a new backend is one new file. None imports torch or
ONNX Runtime before it builds."""

import importlib
import pkgutil

__all__: list[str] = []  # the backends are reached through the registry

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
