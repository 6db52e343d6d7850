"""GradCAM on the model's ``gradcam_layer`` (image architectures that declare one), upsampled
to the image. It has no sign."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast.errors import ConfigError
from neuroplast.explain._methods import ExplainMethod, register_method

if TYPE_CHECKING:
    from torch import Tensor, nn

    from neuroplast.explain.image import ImageExplainer
    from neuroplast.explain.text import TextExplainer


class LayerMethod(ExplainMethod):
    """A method that needs the model's ``gradcam_layer`` (a convolutional layer)."""

    def supports(self, explainer: TextExplainer | ImageExplainer) -> bool:
        return isinstance(getattr(type(explainer.model), "gradcam_layer", None), property)

    def check(self, explainer: TextExplainer | ImageExplainer) -> None:
        if not self.supports(explainer):
            raise ConfigError(
                f"a {explainer.architecture} model has no convolutional layer for {self.name}; "
                "use --method ig, saliency or input_x_gradient (GradCAM needs image_cnn)"
            )

    @staticmethod
    def layer(explainer: ImageExplainer) -> nn.Module:
        return explainer.model.get_submodule(str(explainer.model.gradcam_layer))


@register_method("gradcam", modalities=("image",), signed=False, rank=0, help="GradCAM (image_cnn)")
class GradCamMethod(LayerMethod):
    def image(self, explainer: ImageExplainer, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import LayerAttribution, LayerGradCam

        cam = LayerGradCam(explainer.forward, self.layer(explainer)).attribute(
            x, target=target, relu_attributions=True
        )
        up = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear")
        return up.sum(dim=1)
