"""Guided GradCAM: GradCAM times guided backpropagation (image architectures with a
``gradcam_layer``)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from neuroplast.explain._methods import register_method
from neuroplast.explain.methods.gradcam import LayerMethod

if TYPE_CHECKING:
    from torch import Tensor

    from neuroplast.explain.image import ImageExplainer


@register_method(
    "guided_gradcam",
    modalities=("image",),
    rank=1,
    help="GradCAM times guided backpropagation (image_cnn)",
)
class GuidedGradCamMethod(LayerMethod):
    def image(self, explainer: ImageExplainer, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import GuidedGradCam

        with warnings.catch_warnings():  # Captum announces its temporary ReLU hooks
            warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
            guided = GuidedGradCam(explainer.forward, self.layer(explainer)).attribute(
                x, target=target, interpolate_mode="bilinear"
            )
        return guided.sum(dim=1)
