"""Inference: model bundles (safetensors + JSON) and the batched Predictor."""

from neuroplast.inference.bundle import (
    BUNDLE_FILES,
    LoadedModel,
    ModelMeta,
    load_bundle,
    save_bundle,
)
from neuroplast.inference.predictor import Prediction, Predictor, load_image_files

__all__ = [
    "BUNDLE_FILES",
    "LoadedModel",
    "ModelMeta",
    "Prediction",
    "Predictor",
    "load_bundle",
    "load_image_files",
    "save_bundle",
]
