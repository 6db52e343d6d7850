"""Input x gradient, summed over a token's embedding dimensions or an image's channels."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast.explain._methods import ExplainMethod, TextScores, register_method

if TYPE_CHECKING:
    from torch import Tensor

    from neuroplast.explain.image import ImageExplainer
    from neuroplast.explain.text import TextExplainer


@register_method(
    "input_x_gradient", modalities=("text", "image"), rank=4, help="input times gradient"
)
class InputXGradientMethod(ExplainMethod):
    def text(self, explainer: TextExplainer, batch: Tensor, target: Tensor) -> TextScores:
        from captum.attr import InputXGradient

        embedded, _ = explainer.embed(batch)
        attr = InputXGradient(explainer.embedding_forward).attribute(
            embedded, target=target, additional_forward_args=(batch,)
        )
        return TextScores(attr.sum(dim=-1))

    def image(self, explainer: ImageExplainer, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import InputXGradient

        return InputXGradient(explainer.forward).attribute(x, target=target).sum(dim=1)
