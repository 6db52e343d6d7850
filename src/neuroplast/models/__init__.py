"""Model architectures by name: a timm-style registry and the built-in architectures.

>>> from neuroplast.models import create_model, list_models
>>> model = create_model("lstm", {"vocab_size": 10_000, "num_classes": 2})

Text architectures (``list_models("text")``) take token ids ``[B, T]`` padded with 0; image
architectures (``list_models("image")``) take ``[B, C, H, W]`` float tensors. Each returns
logits ``[B, num_classes]``. The config classes live in the architecture modules
(``neuroplast.models.transformer.TransformerConfig``, ...) and in ``get_spec(name).config_cls``.
"""

from __future__ import annotations

import importlib as _importlib
import pkgutil as _pkgutil

from neuroplast.models._config import ArchConfig
from neuroplast.models._outputs import logits_of
from neuroplast.models._params import count_parameters
from neuroplast.models._registry import (
    ModelSpec,
    create_model,
    get_spec,
    list_models,
    register_model,
    validate_config,
)

__all__ = [
    "ArchConfig",
    "ModelSpec",
    "count_parameters",
    "create_model",
    "get_spec",
    "list_models",
    "logits_of",
    "register_model",
    "validate_config",
]

# Importing the architecture modules registers them: every public module of this package
# is imported, so that a new architecture is one new file with one @register_model.
for _module in _pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        _importlib.import_module(f"{__name__}.{_module.name}")
