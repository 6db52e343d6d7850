"""The feature space of FID and precision/recall: a neuroplast Fashion-MNIST classifier.

Not Inception: the features are the globally pooled activations (before the linear head)
of a registered ``image_cnn`` version trained by neuroplast on Fashion-MNIST. The version
is named by reference (default ``fmnist-cnn``, the image-cnn template's name) and loaded
with every file's hash checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from neuroplast.errors import ConfigError, ModelNotFoundError
from neuroplast.inference.registered import load_registered
from neuroplast.registry import Registry

__all__ = ["FeatureModel", "load_feature_model"]

_BATCH = 500


@dataclass
class FeatureModel:
    """``embed(images in [0, 1], [n, 1, 28, 28]) -> pooled features [n, d]``."""

    ref: str
    model: nn.Module
    mean: float
    std: float

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> np.ndarray:
        out = []
        for start in range(0, len(images), _BATCH):
            x = (images[start : start + _BATCH].float() - self.mean) / self.std
            h = self.model.pool(self.model.features(x))  # type: ignore[operator]
            out.append(h.flatten(1).numpy())
        return np.concatenate(out).astype(np.float64)


def load_feature_model(registry: Registry, ref: str) -> FeatureModel:
    """The ``image_cnn`` version ``ref`` as a feature extractor; a clear error when it is
    missing or is not a 28x28 grayscale image_cnn."""
    try:
        version, loaded = load_registered(registry, ref)
    except ModelNotFoundError as e:
        raise ModelNotFoundError(
            f"the feature model {ref!r} of FID is not in this registry ({e}); train one with "
            "`neuroplast init --template image-cnn > fmnist-cnn.yaml && neuroplast train "
            "fmnist-cnn.yaml`, or name another image_cnn version (image_generation."
            "feature_model in the config, or feature_model= in Python)"
        ) from e
    shape = loaded.meta.preprocessing.get("image_shape")
    if version.architecture != "image_cnn" or (
        shape is not None and list(shape)[-3:] != [1, 28, 28]
    ):
        raise ConfigError(
            f"the feature model {version.ref} is a {version.architecture} on images "
            f"{shape}; FID here needs an image_cnn trained on 28x28 grayscale Fashion-MNIST"
        )
    pre = loaded.meta.preprocessing
    model = loaded.model.eval()
    return FeatureModel(version.ref, model, float(pre.get("mean", 0.5)), float(pre.get("std", 0.5)))
