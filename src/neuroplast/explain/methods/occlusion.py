"""Occlusion: replace one token's embedding at a time by PAD's and measure the change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast.explain._methods import ExplainMethod, TextScores, register_method

if TYPE_CHECKING:
    from torch import Tensor

    from neuroplast.explain.text import TextExplainer


@register_method("occlusion", modalities=("text",), rank=5, help="occlude one token at a time")
class OcclusionMethod(ExplainMethod):
    def text(self, explainer: TextExplainer, batch: Tensor, target: Tensor) -> TextScores:
        from captum.attr import Occlusion

        embedded, pad = explainer.embed(batch)
        dim = embedded.size(-1)
        attr = Occlusion(explainer.embedding_forward).attribute(
            embedded,
            sliding_window_shapes=(1, dim),
            strides=(1, dim),
            baselines=pad,
            target=target,
            additional_forward_args=(batch,),
            perturbations_per_eval=max(1, min(batch.size(1), 64)),
        )
        return TextScores(attr.mean(dim=-1))
