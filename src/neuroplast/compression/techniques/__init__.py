"""The compression techniques, one per file; each registers itself with
:func:`neuroplast.compression.register_technique`. Every module here is imported when the
registry is first read, so that a new technique is one new file; none imports torch before
it runs.

The functions this module held before it became a package stay importable from it (by
their first use, like every lazy name here).
"""

import importlib
import pkgutil

from neuroplast._lazy import lazy_exports as _lazy_exports

__all__ = [
    "Candidate",
    "calibration_batches",
    "calibration_from_inputs",
    "distill_student",
    "dynamic_candidate",
    "prune_candidate",
    "run_config_of",
    "state_bytes",
    "static_candidate",
]

_HOMES = {
    "Candidate": "neuroplast.compression.candidate",
    "run_config_of": "neuroplast.compression.candidate",
    "state_bytes": "neuroplast.compression.candidate",
    "calibration_batches": "neuroplast.inference.quantize",
    "calibration_from_inputs": "neuroplast.compression.techniques.static",
    "static_candidate": "neuroplast.compression.techniques.static",
    "dynamic_candidate": "neuroplast.compression.techniques.dynamic",
    "prune_candidate": "neuroplast.compression.techniques.prune",
    "distill_student": "neuroplast.compression.techniques.distill",
}

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__getattr__, __dir__ = _lazy_exports(__name__, _HOMES, __all__)
