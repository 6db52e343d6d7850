"""The explanation methods, one per file; each registers itself with
:func:`neuroplast.explain.register_method`. Every module here is imported when the
registry is first read, so that a new method is one new file."""

import importlib
import pkgutil

__all__: list[str] = []  # the methods are reached through the registry

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
