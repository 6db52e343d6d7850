"""The linear baseline every text evaluation reports: TF-IDF features + logistic regression.

Its cost grows with classes x features: the multinomial logistic regression keeps one weight
per class and feature, and L-BFGS holds about 25 copies of them (with 10,000 classes it ran
for over 7 minutes in 2.8 GB). So it is skipped, with a warning, above
:data:`MAX_BASELINE_CLASSES` classes or :data:`MAX_BASELINE_WEIGHTS` class x feature weights;
a run config switches it off altogether with ``evaluation.baseline: false``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import torch

from neuroplast.evaluation.metrics import EvalResult, metrics_from_probabilities

__all__ = [
    "MAX_BASELINE_CLASSES",
    "MAX_BASELINE_WEIGHTS",
    "baseline_skip_reason",
    "tfidf_baseline",
]

logger = logging.getLogger(__name__)

#: More classes than this and the baseline is skipped (checked before any work).
MAX_BASELINE_CLASSES = 1000
#: More class x feature weights than this (80 MB a copy) and the baseline is skipped
#: (checked once the TF-IDF vocabulary is known, before the regression is fitted).
MAX_BASELINE_WEIGHTS = 10_000_000


def baseline_skip_reason(n_classes: int, n_features: int | None = None) -> str | None:
    """Why the baseline is too large to fit for ``n_classes`` (and ``n_features`` TF-IDF
    features, when known), or None when it is within the limits."""
    if n_classes > MAX_BASELINE_CLASSES:
        return (
            f"{n_classes} classes is more than {MAX_BASELINE_CLASSES}, and its logistic "
            "regression grows as classes x features"
        )
    if n_features is not None and n_classes * n_features > MAX_BASELINE_WEIGHTS:
        return (
            f"{n_classes} classes x {n_features} TF-IDF features = "
            f"{n_classes * n_features:,} weights is more than {MAX_BASELINE_WEIGHTS:,}"
        )
    return None


def _skipped(reason: str) -> tuple[None, None]:
    logger.warning(
        "skipped the TF-IDF baseline: %s; set evaluation.baseline: false in the run config "
        "to skip it without this warning",
        reason,
    )
    return None, None


def tfidf_baseline(
    train_texts: Sequence[str],
    train_labels: np.ndarray,
    test_texts: Sequence[str],
    test_labels: np.ndarray,
    label_names: Sequence[str],
    *,
    seed: int = 0,
) -> tuple[EvalResult, float] | tuple[None, None]:
    """Fit on the training split, score the test split; returns the metrics and fit seconds,
    or ``(None, None)`` (and a logged warning) when the model would be too large (see the
    module doc)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    n_classes = len(np.unique(np.asarray(train_labels)))
    reason = baseline_skip_reason(n_classes)
    if reason is not None:
        return _skipped(reason)
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000
    )
    try:
        features = vectorizer.fit_transform(train_texts)
    except ValueError as error:  # no word is in two training texts: nothing to fit on
        return _skipped(f"no TF-IDF features ({error})")
    reason = baseline_skip_reason(n_classes, features.shape[1])
    if reason is not None:
        return _skipped(reason)
    clf = LogisticRegression(C=4.0, max_iter=2000, random_state=seed)
    clf.fit(features, train_labels)
    probs = np.zeros((len(test_texts), len(label_names)), dtype=np.float32)
    probs[:, clf.classes_] = clf.predict_proba(vectorizer.transform(test_texts))
    seconds = time.perf_counter() - started
    result = metrics_from_probabilities(
        torch.from_numpy(probs),
        torch.from_numpy(np.asarray(test_labels, dtype=np.int64)),
        label_names,
    )
    return result, seconds
