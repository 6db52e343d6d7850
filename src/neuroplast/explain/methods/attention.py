"""Attention: one score per token from the model's own attention (architectures that have
attention layers only). It has no sign."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast.explain._methods import ExplainMethod, TextScores, register_method

if TYPE_CHECKING:
    from torch import Tensor

    from neuroplast.explain.image import ImageExplainer
    from neuroplast.explain.text import TextExplainer


@register_method(
    "attention", modalities=("text",), signed=False, rank=6, help="the model's attention"
)
class AttentionMethod(ExplainMethod):
    def text(self, explainer: TextExplainer, batch: Tensor, target: Tensor) -> TextScores:
        from neuroplast.explain.attention import attention_scores

        model = explainer.model
        pooling = str(getattr(getattr(model, "config", None), "pooling", "mean"))
        return TextScores(
            attention_scores(model, batch, architecture=explainer.architecture, pooling=pooling)
        )

    def supports(self, explainer: TextExplainer | ImageExplainer) -> bool:
        from neuroplast.explain.attention import has_attention

        return has_attention(explainer.model)

    def check(self, explainer: TextExplainer | ImageExplainer) -> None:
        from neuroplast.explain.attention import require_attention

        require_attention(explainer.model, explainer.architecture)
