"""Integrated gradients: on the embeddings for texts (adaptive Gauss-Legendre, with its
completeness terms, see :mod:`neuroplast.explain._ig`), from a black image for images."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast.explain._methods import ExplainMethod, TextScores, register_method

if TYPE_CHECKING:
    from torch import Tensor

    from neuroplast.explain.image import ImageExplainer
    from neuroplast.explain.text import TextExplainer


@register_method("ig", modalities=("text", "image"), rank=2, help="integrated gradients")
class IntegratedGradientsMethod(ExplainMethod):
    def text(self, explainer: TextExplainer, batch: Tensor, target: Tensor) -> TextScores:
        """``ig_steps`` Gauss-Legendre nodes over the whole path; rows whose relative delta
        exceeds 5 % are integrated piecewise, refining only the pieces that carry the error,
        up to ``ig_max_steps`` gradient evaluations per row."""
        from neuroplast.explain._ig import adaptive_integrated_gradients
        from neuroplast.explain.text import IG_TOLERANCE

        embedded, pad = explainer.embed(batch)
        scores, deltas, gaps = adaptive_integrated_gradients(
            explainer.embedding_forward,
            embedded,
            pad,
            batch,
            target,
            tolerance=IG_TOLERANCE,
            steps=explainer.ig_steps,
            max_evals=explainer.ig_max_steps,
        )
        return TextScores(scores, deltas, gaps)

    def image(self, explainer: ImageExplainer, x: Tensor, target: Tensor) -> Tensor:
        import torch
        from captum.attr import IntegratedGradients

        black = torch.full_like(x, (0.0 - explainer.mean) / explainer.std)
        attr = IntegratedGradients(explainer.forward).attribute(
            x, baselines=black, target=target, n_steps=explainer.ig_steps
        )
        return attr.sum(dim=1)
