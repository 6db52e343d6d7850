"""Saliency: the gradient's size (its L2 norm over a token's embedding; its absolute value
summed over an image's channels). It has no sign."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast.explain._methods import ExplainMethod, TextScores, register_method

if TYPE_CHECKING:
    from torch import Tensor

    from neuroplast.explain.image import ImageExplainer
    from neuroplast.explain.text import TextExplainer


@register_method(
    "saliency", modalities=("text", "image"), signed=False, rank=3, help="gradient magnitude"
)
class SaliencyMethod(ExplainMethod):
    def text(self, explainer: TextExplainer, batch: Tensor, target: Tensor) -> TextScores:
        from captum.attr import Saliency

        embedded, _ = explainer.embed(batch)
        grads = Saliency(explainer.embedding_forward).attribute(
            embedded, target=target, abs=False, additional_forward_args=(batch,)
        )
        return TextScores(grads.norm(dim=-1))

    def image(self, explainer: ImageExplainer, x: Tensor, target: Tensor) -> Tensor:
        from captum.attr import Saliency

        return Saliency(explainer.forward).attribute(x, target=target, abs=True).sum(dim=1)
