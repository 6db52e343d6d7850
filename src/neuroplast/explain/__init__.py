"""Explanations that come with a measured check of their faithfulness.

>>> from neuroplast.explain import TextExplainer                        # doctest: +SKIP
>>> TextExplainer(loaded).explain(["a gorgeous, witty film"], method="ig")[0].top(3)

* :class:`TextExplainer`: token attributions (integrated gradients, saliency, input x
  gradient, occlusion on the embedding layer, via Captum) and attention scores.
* :class:`ImageExplainer`: GradCAM and pixel attributions.
* :func:`text_checks` (deletion test, completeness) and :func:`gradcam_check`.
* :func:`explanation_view` (terminal), :func:`save_overlay` (PNG), :func:`html_report`.
* :class:`Explainer`: the by-model-id API behind ``Engine.explainer``.
"""

from neuroplast.explain._results import (
    IMAGE_METHODS,
    TEXT_METHODS,
    ImageExplanation,
    Method,
    TokenExplanation,
    heat_on_object,
)
from neuroplast.explain.attention import (
    attention_maps,
    attention_rollout,
    attention_scores,
    has_attention,
    require_attention,
)
from neuroplast.explain.explainer import ActivationStats, Explainer, InputData
from neuroplast.explain.faithfulness import (
    CompletenessResult,
    DeletionResult,
    TextChecks,
    completeness,
    delete_tokens,
    deletion_test,
    packs_sequences,
    select_texts,
    text_checks,
)
from neuroplast.explain.image import HeatCheck, ImageExplainer, gradcam_check
from neuroplast.explain.overlay import overlay_array, overlay_png, save_overlay
from neuroplast.explain.render import (
    completeness_table,
    deletion_table,
    explanation_view,
    heat_table,
    token_colour,
    tokens_text,
)
from neuroplast.explain.report import html_report, save_html
from neuroplast.explain.text import TextExplainer, resolve_target

__all__ = [
    "IMAGE_METHODS",
    "TEXT_METHODS",
    "ActivationStats",
    "CompletenessResult",
    "DeletionResult",
    "Explainer",
    "HeatCheck",
    "ImageExplainer",
    "ImageExplanation",
    "InputData",
    "Method",
    "TextChecks",
    "TextExplainer",
    "TokenExplanation",
    "attention_maps",
    "attention_rollout",
    "attention_scores",
    "completeness",
    "completeness_table",
    "delete_tokens",
    "deletion_table",
    "deletion_test",
    "explanation_view",
    "gradcam_check",
    "has_attention",
    "heat_on_object",
    "heat_table",
    "html_report",
    "overlay_array",
    "overlay_png",
    "packs_sequences",
    "require_attention",
    "resolve_target",
    "save_html",
    "save_overlay",
    "select_texts",
    "text_checks",
    "token_colour",
    "tokens_text",
]
