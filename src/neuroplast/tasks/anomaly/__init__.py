"""Anomaly detection with autoencoders (tabular rows, series windows, images).

Trained on normal data only; the reconstruction error is the anomaly score, and the
threshold (a target false-positive rate or the best F1 on validation) is stored with the
version beside the feature scaling. ``handler()`` is what :func:`neuroplast.tasks.task_handler`
calls; this module imports neither torch nor scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from neuroplast.tasks.anomaly.task import AnomalyHandler

__all__ = ["handler"]


def handler() -> AnomalyHandler:
    from neuroplast.tasks.anomaly.task import AnomalyHandler

    return AnomalyHandler()
