"""Thresholds, metrics and scikit-learn baselines of anomaly detection.

Scores grow with abnormality. The threshold is chosen on validation: ``fpr`` takes the
``1 - target_fpr`` quantile of the validation normals' scores (all validation scores when
there are no labels), ``f1`` the validation score with the best F1. A baseline gets its own
threshold by the same rule from its own validation scores, so that its F1 is comparable.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from neuroplast.tasks.anomaly.config import AnomalyConfig

__all__ = ["LOF_MAX_TRAIN", "anomaly_metrics", "baseline_scores", "choose_threshold"]

logger = logging.getLogger(__name__)
#: LocalOutlierFactor keeps every training row and searches them for each query: it is fitted
#: on a seeded random subsample of at most this many training rows.
LOF_MAX_TRAIN = 10_000


def choose_threshold(
    scores: np.ndarray, labels: np.ndarray | None, cfg: AnomalyConfig
) -> dict[str, Any]:
    """``{"threshold", "rule", ...}`` from validation scores (and labels, when known)."""
    if cfg.threshold == "f1" and labels is not None and labels.any():
        from sklearn.metrics import precision_recall_curve

        precision, recall, cuts = precision_recall_curve(labels, scores)
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        best = int(np.argmax(f1[:-1]))
        return {"threshold": float(cuts[best]), "rule": "f1", "val_f1": float(f1[best])}
    normals = scores if labels is None else scores[labels == 0]
    threshold = float(np.quantile(normals, 1.0 - cfg.target_fpr))
    return {
        "threshold": threshold,
        "rule": "fpr",
        "target_fpr": cfg.target_fpr,
        "val_fpr": float((normals > threshold).mean()),
    }


def anomaly_metrics(
    scores: np.ndarray, labels: np.ndarray | None, threshold: float
) -> dict[str, Any]:
    """AUROC, AUPRC (average precision), and precision / recall / F1 / FPR at ``threshold``;
    without labels only the share flagged."""
    flagged = scores > threshold
    out: dict[str, Any] = {"samples": len(scores), "flagged": int(flagged.sum())}
    if labels is None:
        return out
    from sklearn.metrics import average_precision_score, roc_auc_score

    positives = int(labels.sum())
    out["anomalies"] = positives
    tp = int((flagged & (labels == 1)).sum())
    fp = int((flagged & (labels == 0)).sum())
    precision = tp / max(int(flagged.sum()), 1)
    recall = tp / max(positives, 1)
    out.update(
        precision=precision,
        recall=recall,
        f1=2 * precision * recall / max(precision + recall, 1e-12),
        fpr=fp / max(len(labels) - positives, 1),
    )
    if 0 < positives < len(labels):
        out["auroc"] = float(roc_auc_score(labels, scores))
        out["auprc"] = float(average_precision_score(labels, scores))
    return out


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1)


def _fit_baseline(name: str, train: np.ndarray, seed: int) -> Any:
    if name == "isolation_forest":
        from sklearn.ensemble import IsolationForest

        return IsolationForest(n_estimators=200, random_state=seed).fit(train)
    from sklearn.neighbors import LocalOutlierFactor

    if len(train) > LOF_MAX_TRAIN:
        rows = np.random.default_rng(seed).choice(len(train), LOF_MAX_TRAIN, replace=False)
        train = train[rows]
    return LocalOutlierFactor(n_neighbors=20, novelty=True).fit(train)


def baseline_scores(
    name: str,
    train: np.ndarray,
    val: np.ndarray,
    test: np.ndarray,
    *,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Validation and test scores of the baseline ``name`` (``isolation_forest`` or ``lof``)
    fitted on the (scaled) normal training inputs, and the seconds it took."""
    started = time.perf_counter()
    model = _fit_baseline(name, _flat(train), seed)
    val_scores = -model.score_samples(_flat(val))
    test_scores = -model.score_samples(_flat(test))
    seconds = time.perf_counter() - started
    logger.info("%s baseline: %.1f s", name, seconds)
    return val_scores, test_scores, seconds
