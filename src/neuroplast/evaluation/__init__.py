"""Evaluation: metrics (torchmetrics), the TF-IDF baseline and PNG plots."""

from neuroplast.evaluation.baseline import tfidf_baseline
from neuroplast.evaluation.metrics import (
    EvalResult,
    collect_probabilities,
    evaluate_model,
    metrics_from_probabilities,
)
from neuroplast.evaluation.plots import plot_confusion_matrix, plot_training_curves

__all__ = [
    "EvalResult",
    "collect_probabilities",
    "evaluate_model",
    "metrics_from_probabilities",
    "plot_confusion_matrix",
    "plot_training_curves",
    "tfidf_baseline",
]
