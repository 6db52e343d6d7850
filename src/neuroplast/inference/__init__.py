"""Inference: model bundles (safetensors + JSON) and the Predictor with its backends.

``Predictor`` runs eager PyTorch (fp32 or dynamic int8), ``OnnxPredictor`` ONNX Runtime
(fp32 or int8) and ``create_predictor(..., backend="auto")`` measures them at each batch size
and returns an ``AutoPredictor`` that runs every batch on the fastest that agrees with fp32
(its ``ChoiceTable``); ``registered_predictor`` builds one for a registered version, reading
the artifacts compression wrote (``meta``, ``qstate``, ``onnx_export`` hold those formats).
The backends are a registry (:func:`register_backend` / :func:`list_backends`), one file each
in :mod:`neuroplast.inference.backends`; reading it imports no torch.
Nothing here imports :mod:`neuroplast.compression`. Names are imported on first use, so that
``neuroplast.inference.onnx_predictor`` loads without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast._lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from neuroplast.inference._backends import (
        BACKENDS,
        BackendSource,
        PredictorBackend,
        backends_help,
        check_backend,
        get_backend,
        list_backends,
        register_backend,
    )
    from neuroplast.inference.auto import AutoPredictor, create_predictor
    from neuroplast.inference.base import BasePredictor, Prediction, load_image_files
    from neuroplast.inference.bundle import BUNDLE_FILES, LoadedModel, load_bundle, save_bundle
    from neuroplast.inference.choice import BatchChoice, ChoiceTable
    from neuroplast.inference.meta import ModelMeta
    from neuroplast.inference.onnx_predictor import OnnxPredictor
    from neuroplast.inference.predictor import Predictor
    from neuroplast.inference.registered import registered_predictor

__all__ = [
    "BACKENDS",
    "BUNDLE_FILES",
    "AutoPredictor",
    "BackendSource",
    "BasePredictor",
    "BatchChoice",
    "ChoiceTable",
    "LoadedModel",
    "ModelMeta",
    "OnnxPredictor",
    "Prediction",
    "Predictor",
    "PredictorBackend",
    "backends_help",
    "check_backend",
    "create_predictor",
    "get_backend",
    "list_backends",
    "load_bundle",
    "load_image_files",
    "register_backend",
    "registered_predictor",
    "save_bundle",
]

_HOMES = {
    "BasePredictor": "neuroplast.inference.base",
    "Prediction": "neuroplast.inference.base",
    "ModelMeta": "neuroplast.inference.meta",
    "BACKENDS": "neuroplast.inference._backends",
    "BackendSource": "neuroplast.inference._backends",
    "PredictorBackend": "neuroplast.inference._backends",
    "backends_help": "neuroplast.inference._backends",
    "check_backend": "neuroplast.inference._backends",
    "get_backend": "neuroplast.inference._backends",
    "list_backends": "neuroplast.inference._backends",
    "register_backend": "neuroplast.inference._backends",
    "AutoPredictor": "neuroplast.inference.auto",
    "BatchChoice": "neuroplast.inference.choice",
    "ChoiceTable": "neuroplast.inference.choice",
    "create_predictor": "neuroplast.inference.auto",
    "BUNDLE_FILES": "neuroplast.inference.bundle",
    "LoadedModel": "neuroplast.inference.bundle",
    "load_bundle": "neuroplast.inference.bundle",
    "save_bundle": "neuroplast.inference.bundle",
    "OnnxPredictor": "neuroplast.inference.onnx_predictor",
    "Predictor": "neuroplast.inference.predictor",
    "load_image_files": "neuroplast.inference.base",
    "registered_predictor": "neuroplast.inference.registered",
}


__getattr__, __dir__ = _lazy_exports(__name__, _HOMES, __all__)
