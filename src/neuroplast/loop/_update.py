"""The candidate: ``continual update`` of the serving version on the feedback, in memory.

The loop's data is already in memory (and an image folder cannot hold class names such as
Fashion-MNIST's ``T-shirt/top``), so the candidate comes from
:func:`neuroplast.continual.update.update_model_data` on a :class:`TextData` /
:class:`ImageData`. It is registered like any update: its parent, strategy, and accuracy on
the old (reference) and new test rows before and after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from neuroplast.continual.update import update_model_data
from neuroplast.inference.registered import load_registered

if TYPE_CHECKING:
    from neuroplast.continual.update import UpdateOutcome
    from neuroplast.data import ImageData, TextData
    from neuroplast.loop.policy import UpdateSection
    from neuroplast.registry import Registry

__all__ = ["predict_labels", "train_candidate"]


def train_candidate(
    registry: Registry,
    parent_ref: str,
    new: TextData | ImageData,
    *,
    source: str,
    update: UpdateSection,
) -> UpdateOutcome:
    """Train ``parent_ref`` on ``new`` with the policy's strategies; register the result."""
    return update_model_data(
        registry,
        parent_ref,
        new,
        source=source,
        strategies=update.strategies,
        buffer_size=update.buffer_size,
        allow_new_classes=update.allow_new_classes,
        epochs=update.epochs,
        lr=update.lr,
        seed=update.seed,
    )


def predict_labels(registry: Registry, ref: str, inputs: list[str] | np.ndarray) -> list[str]:
    """The labels version ``ref`` gives ``inputs`` (eager torch, as evaluated)."""
    from neuroplast.inference.predictor import Predictor

    if len(inputs) == 0:
        return []
    _, loaded = load_registered(registry, ref)
    return [p.label for p in Predictor(loaded).predict(inputs)]
