"""The linear baseline every text evaluation reports: TF-IDF features + logistic regression."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from neuroplast.evaluation.metrics import EvalResult, metrics_from_probabilities

__all__ = ["tfidf_baseline"]


def tfidf_baseline(
    train_texts: Sequence[str],
    train_labels: np.ndarray,
    test_texts: Sequence[str],
    test_labels: np.ndarray,
    label_names: Sequence[str],
    *,
    seed: int = 0,
) -> tuple[EvalResult, float]:
    """Fit on the training split, score the test split; returns the metrics and fit seconds."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000
    )
    features = vectorizer.fit_transform(train_texts)
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
