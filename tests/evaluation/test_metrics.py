"""Every number of an evaluation against scikit-learn on fixed probabilities, and the
compression table's macro F1 against the evaluation's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from neuroplast.compression.table import macro_f1
from neuroplast.errors import DataError
from neuroplast.evaluation.metrics import EvalResult, metrics_from_probabilities

NAMES = ["neg", "neu", "pos"]
#: Eight inputs, three classes, every class present; five right, three wrong, no ties.
PROBS = [
    [0.7, 0.2, 0.1],
    [0.5, 0.3, 0.2],
    [0.2, 0.5, 0.3],
    [0.1, 0.8, 0.1],
    [0.3, 0.4, 0.3],
    [0.6, 0.3, 0.1],
    [0.2, 0.2, 0.6],
    [0.1, 0.6, 0.3],
]
TARGETS = [0, 0, 0, 1, 1, 1, 2, 2]


def _evaluate(probs: list[list[float]], targets: list[int], names: list[str]) -> EvalResult:
    return metrics_from_probabilities(torch.tensor(probs), torch.tensor(targets), names)


def test_every_metric_matches_scikit_learn() -> None:
    result = _evaluate(PROBS, TARGETS, NAMES)
    y, p = np.array(TARGETS), np.array(PROBS)
    predicted = p.argmax(axis=1)
    assert result.samples == 8 and result.label_names == NAMES
    assert result.accuracy == pytest.approx(accuracy_score(y, predicted)) == 5 / 8
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y, predicted, average=average, zero_division=0
        )
        assert getattr(result, f"precision_{average}") == pytest.approx(precision)
        assert getattr(result, f"recall_{average}") == pytest.approx(recall)
        assert getattr(result, f"f1_{average}") == pytest.approx(f1)
    assert result.roc_auc == pytest.approx(roc_auc_score(y, p, multi_class="ovr"))
    assert result.loss == pytest.approx(log_loss(y, p), rel=1e-6)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=[0, 1, 2], zero_division=0
    )
    for i, name in enumerate(NAMES):
        row = result.per_class[name]
        assert row["precision"] == pytest.approx(precision[i])
        assert row["recall"] == pytest.approx(recall[i])
        assert row["f1"] == pytest.approx(f1[i])
        assert row["support"] == support[i]
    assert result.confusion_matrix == confusion_matrix(y, predicted).tolist()
    assert result.confusion_matrix == [[2, 1, 0], [1, 2, 0], [0, 1, 1]]
    assert macro_f1(y, predicted) == pytest.approx(result.f1_macro)


def test_classes_missing_from_the_targets() -> None:
    """A class predicted but never a target counts (F1 0) in the macro means; one neither
    predicted nor a target does not; the ROC AUC needs every class among the targets."""
    probs = [
        [0.7, 0.2, 0.1, 0.0],
        [0.1, 0.8, 0.1, 0.0],
        [0.6, 0.3, 0.1, 0.0],
        [0.2, 0.3, 0.5, 0.0],
        [0.3, 0.6, 0.1, 0.0],
    ]
    targets = [0, 1, 1, 0, 1]
    result = _evaluate(probs, targets, ["a", "b", "c", "d"])
    predicted = np.array(probs).argmax(axis=1)
    precision, recall, f1, _ = precision_recall_fscore_support(
        targets, predicted, average="macro", zero_division=0
    )
    assert (result.precision_macro, result.recall_macro) == (
        pytest.approx(precision),
        pytest.approx(recall),
    )
    assert result.f1_macro == pytest.approx(f1) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert macro_f1(np.array(targets), predicted) == pytest.approx(result.f1_macro)
    assert result.roc_auc is None
    assert result.per_class["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert result.confusion_matrix[2] == [0, 0, 0, 0] and result.confusion_matrix[0][2] == 1


def test_labels_that_do_not_fit_the_model_are_data_errors() -> None:
    with pytest.raises(DataError, match="the model has 3 classes but 2 label names"):
        _evaluate(PROBS, TARGETS, NAMES[:2])
    with pytest.raises(DataError, match=r"labels go up to 3 but the model knows 3 classes"):
        _evaluate(PROBS, [*TARGETS[:-1], 3], NAMES)
