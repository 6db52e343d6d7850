"""The candidate: ``continual update`` of the serving version on the feedback, in memory.

:func:`neuroplast.continual.update.update_model` reads its new data from a file or an image
folder; the loop's data is already in memory (and an image folder cannot hold class names
such as Fashion-MNIST's ``T-shirt/top``), so this runs the same named steps of that module
on a :class:`TextData` / :class:`ImageData`. The candidate is registered like any update:
its parent, strategy, and accuracy on the old (reference) and new test rows before and after.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from neuroplast.continual import update as _steps
from neuroplast.continual.learner import ContinualLearner
from neuroplast.continual.record import register_continual_version
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
    started = time.perf_counter()
    parent, loaded = load_registered(registry, parent_ref)
    _steps._require_own_data(parent, loaded)
    names, unknown = _steps._class_names(
        parent, loaded, new, source, allow_new_classes=update.allow_new_classes
    )
    model, arch_config = loaded.model, dict(loaded.meta.arch_config)
    if unknown:
        model, arch_config = _steps.expand_classes(loaded, names)
    old = _steps._old_task(parent, loaded)
    new_task = _steps._new_task(new, loaded, names, source, update.seed)
    stream = _steps._stream(f"loop:{parent.ref}", (old, new_task), names, loaded)
    plugins = _steps._plugins(update.strategies, None, update.buffer_size, update.seed)
    train_cfg = _steps._train_config(parent, update.epochs)
    if update.lr is not None:
        optimizer = train_cfg.optimizer.model_copy(update={"lr": update.lr})
        train_cfg = train_cfg.model_copy(update={"optimizer": optimizer})
    before = _steps._scores(loaded.model, old, new_task, len(loaded.meta.label_names))
    learner = ContinualLearner(model, stream, train_cfg, plugins, seed=update.seed)
    _steps._restore_state(plugins, learner, old, parent)
    learner.fit_task(1)
    after = _steps._scores(learner.inner, old, new_task, len(names))
    metrics = _steps._metrics(
        update.strategy, parent, source, unknown, (before, after), (old, new_task), started
    )
    version, _ = register_continual_version(
        registry,
        name=parent.model_name,
        architecture=parent.architecture,
        task=parent.task,
        model=learner.inner,
        arch_config=arch_config,
        label_names=names,
        preprocessing=dict(loaded.meta.preprocessing),
        data=dict(loaded.meta.data),
        vocab=loaded.vocab,
        plugins=plugins,
        metrics=metrics,
        config={**parent.config, "continual_update": metrics},
        parent_id=parent.id,
    )
    return _steps.UpdateOutcome(
        parent, version, update.strategy, before, after, unknown, time.perf_counter() - started
    )


def predict_labels(registry: Registry, ref: str, inputs: list[str] | np.ndarray) -> list[str]:
    """The labels version ``ref`` gives ``inputs`` (eager torch, as evaluated)."""
    from neuroplast.inference.predictor import Predictor

    if len(inputs) == 0:
        return []
    _, loaded = load_registered(registry, ref)
    return [p.label for p in Predictor(loaded).predict(inputs)]
