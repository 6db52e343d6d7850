"""Explanations for the server, through :mod:`neuroplast.explain`.

The torch model of a version is loaded the first time one of its inputs is explained (a
server that only predicts on ONNX never imports torch), and kept for the next ones. Calls
are synchronous and not thread-safe: the pool runs them one at a time in its own thread.
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from neuroplast.errors import DataError

if TYPE_CHECKING:
    from neuroplast.explain import ImageExplainer, TextExplainer
    from neuroplast.registry import Registry

__all__ = ["Explanations"]

logger = logging.getLogger(__name__)


class Explanations:
    """Token attributions or a GradCAM overlay for one input of a registered version."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._explainers: dict[str, TextExplainer | ImageExplainer] = {}

    def loaded(self) -> list[str]:
        """The versions whose torch model is loaded."""
        return list(self._explainers)

    def drop(self, ref: str) -> None:
        """Forget the model of ``ref`` (a version the server no longer serves)."""
        self._explainers.pop(ref, None)

    def _explainer(self, ref: str) -> TextExplainer | ImageExplainer:
        explainer = self._explainers.get(ref)
        if explainer is None:
            from neuroplast.explain import ImageExplainer, TextExplainer
            from neuroplast.inference.registered import load_registered

            logger.info("loading the torch model of %s to explain its predictions", ref)
            _, loaded = load_registered(self.registry, ref)
            if loaded.meta.modality == "text":
                explainer = TextExplainer(loaded)
            else:
                explainer = ImageExplainer(loaded)
            self._explainers[ref] = explainer
        return explainer

    def explain(
        self, ref: str, item: str | np.ndarray, *, method: str | None = None
    ) -> dict[str, Any]:
        """Explain the predicted class of ``item`` (a text, or a uint8 ``[C, H, W]`` image)
        under version ``ref`` with ``method`` (default: ig for texts, gradcam for images)."""
        explainer = self._explainer(ref)
        from neuroplast.explain import ImageExplainer

        if isinstance(explainer, ImageExplainer):
            return self._image(ref, explainer, item, method)
        if not isinstance(item, str):
            raise DataError(f"{ref} is a text model: explain a text, not {type(item).__name__}")
        if not item.strip():
            raise DataError("the text to explain is empty; give it some words")
        chosen = method or "ig"
        explainer.check_method(chosen)
        text = explainer.explain([item], method=chosen)[0]
        return {
            "version": ref,
            "label": text.predicted_label,
            "probability": float(text.probability),
            "method": text.method,
            "tokens": list(text.tokens),
            "attributions": [float(s) for s in np.asarray(text.scores, dtype=np.float64)],
        }

    def _image(
        self, ref: str, explainer: ImageExplainer, item: str | np.ndarray, method: str | None
    ) -> dict[str, Any]:
        from neuroplast.explain import overlay_png

        if isinstance(item, str):
            raise DataError("this is an image model: explain an image, not a text")
        image = np.asarray(item)
        if image.ndim == 4 and image.shape[0] == 1:
            image = image[0]
        if image.ndim == 2:
            image = image[None]
        if image.ndim != 3 or tuple(image.shape) != explainer.image_shape:
            raise DataError(
                f"the image to explain must be uint8 {list(explainer.image_shape)} "
                f"([channels, height, width]), got shape {list(image.shape)}"
            )
        if image.dtype != np.uint8:
            raise DataError(f"images must be uint8 pixels 0-255, got dtype {image.dtype}")
        chosen = method or ("gradcam" if "gradcam" in explainer.methods else "ig")
        explainer.check_method(chosen)
        result = explainer.explain(image[None], method=chosen)[0]
        return {
            "version": ref,
            "label": result.predicted_label,
            "probability": float(result.probability),
            "method": result.method,
            "overlay_png": base64.b64encode(overlay_png(result)).decode("ascii"),
        }
