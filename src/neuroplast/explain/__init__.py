"""Explanations that come with a measured check of their faithfulness.

>>> from neuroplast.explain import TextExplainer                        # doctest: +SKIP
>>> TextExplainer(loaded).explain(["a gorgeous, witty film"], method="ig")[0].top(3)

* :class:`TextExplainer`: token attributions (integrated gradients, saliency, input x
  gradient, occlusion on the embedding layer, via Captum) and attention scores.
* :class:`ImageExplainer`: GradCAM and pixel attributions.
* :func:`text_checks` (deletion test, completeness) and :func:`gradcam_check`.
* :func:`explain_loaded`: all of it for one model (``Engine.explain``), an
  :class:`ExplainReport`.
* :func:`explanation_view` (terminal), :func:`save_overlay` (PNG), :func:`html_report`.
* :class:`Explainer`: the by-model-id API behind ``Engine.explainer``.
* :func:`register_method` / :func:`list_methods`: the registry of methods, one file each in
  :mod:`neuroplast.explain.methods`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast._lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from neuroplast.explain._methods import (
        IMAGE_METHODS,
        TEXT_METHODS,
        ExplainMethod,
        TextScores,
        get_method,
        list_methods,
        methods_help,
        register_method,
    )
    from neuroplast.explain._results import (
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
    from neuroplast.explain.run import ExplainReport, check_counts, explain_loaded
    from neuroplast.explain.text import TextExplainer, resolve_target

__all__ = [
    "IMAGE_METHODS",
    "TEXT_METHODS",
    "ActivationStats",
    "CompletenessResult",
    "DeletionResult",
    "ExplainMethod",
    "ExplainReport",
    "Explainer",
    "HeatCheck",
    "ImageExplainer",
    "ImageExplanation",
    "InputData",
    "Method",
    "TextChecks",
    "TextExplainer",
    "TextScores",
    "TokenExplanation",
    "attention_maps",
    "attention_rollout",
    "attention_scores",
    "check_counts",
    "completeness",
    "completeness_table",
    "delete_tokens",
    "deletion_table",
    "deletion_test",
    "explain_loaded",
    "explanation_view",
    "get_method",
    "gradcam_check",
    "has_attention",
    "heat_on_object",
    "heat_table",
    "html_report",
    "list_methods",
    "methods_help",
    "overlay_array",
    "overlay_png",
    "packs_sequences",
    "register_method",
    "require_attention",
    "resolve_target",
    "save_html",
    "save_overlay",
    "select_texts",
    "text_checks",
    "token_colour",
    "tokens_text",
]

_HOMES = {
    "IMAGE_METHODS": "neuroplast.explain._methods",
    "TEXT_METHODS": "neuroplast.explain._methods",
    "ActivationStats": "neuroplast.explain.explainer",
    "CompletenessResult": "neuroplast.explain.faithfulness",
    "DeletionResult": "neuroplast.explain.faithfulness",
    "ExplainMethod": "neuroplast.explain._methods",
    "ExplainReport": "neuroplast.explain.run",
    "Explainer": "neuroplast.explain.explainer",
    "HeatCheck": "neuroplast.explain.image",
    "ImageExplainer": "neuroplast.explain.image",
    "ImageExplanation": "neuroplast.explain._results",
    "InputData": "neuroplast.explain.explainer",
    "Method": "neuroplast.explain._results",
    "TextChecks": "neuroplast.explain.faithfulness",
    "TextExplainer": "neuroplast.explain.text",
    "TextScores": "neuroplast.explain._methods",
    "TokenExplanation": "neuroplast.explain._results",
    "attention_maps": "neuroplast.explain.attention",
    "attention_rollout": "neuroplast.explain.attention",
    "attention_scores": "neuroplast.explain.attention",
    "check_counts": "neuroplast.explain.run",
    "completeness": "neuroplast.explain.faithfulness",
    "completeness_table": "neuroplast.explain.render",
    "delete_tokens": "neuroplast.explain.faithfulness",
    "deletion_table": "neuroplast.explain.render",
    "deletion_test": "neuroplast.explain.faithfulness",
    "explain_loaded": "neuroplast.explain.run",
    "explanation_view": "neuroplast.explain.render",
    "get_method": "neuroplast.explain._methods",
    "gradcam_check": "neuroplast.explain.image",
    "has_attention": "neuroplast.explain.attention",
    "heat_on_object": "neuroplast.explain._results",
    "heat_table": "neuroplast.explain.render",
    "html_report": "neuroplast.explain.report",
    "list_methods": "neuroplast.explain._methods",
    "methods_help": "neuroplast.explain._methods",
    "overlay_array": "neuroplast.explain.overlay",
    "overlay_png": "neuroplast.explain.overlay",
    "packs_sequences": "neuroplast.explain.faithfulness",
    "register_method": "neuroplast.explain._methods",
    "require_attention": "neuroplast.explain.attention",
    "resolve_target": "neuroplast.explain.text",
    "save_html": "neuroplast.explain.report",
    "save_overlay": "neuroplast.explain.overlay",
    "select_texts": "neuroplast.explain.faithfulness",
    "text_checks": "neuroplast.explain.faithfulness",
    "token_colour": "neuroplast.explain.render",
    "tokens_text": "neuroplast.explain.render",
}

__getattr__, __dir__ = _lazy_exports(__name__, _HOMES, __all__)
