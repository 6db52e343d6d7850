"""``continual update``: a registered model learns new labelled data (new classes, or the
same classes drifting) without forgetting the old, and becomes a new version.

The old task is the parent's own training data (its recorded data config); the strategies'
state (replay buffer, Fisher information, SI importances) comes from the parent version's
``continual/state.safetensors`` when it has one, else it is built from the old data. The new
version records its parent, the strategy and the accuracy on the old and the new test data
before and after the update.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError
from torch import Tensor, nn

from neuroplast.config import DataConfig, TrainConfig
from neuroplast.continual.config import StrategyOptions
from neuroplast.continual.learner import ContinualLearner
from neuroplast.continual.record import load_plugin_state, register_continual_version
from neuroplast.continual.strategies import Plugin, create_plugins
from neuroplast.continual.streams import Stream, Task, image_tensor, text_tensor
from neuroplast.data import ImageData, TextData, load_image_folder, load_table
from neuroplast.data.prepare import prepare
from neuroplast.errors import ConfigError, DataError
from neuroplast.inference.bundle import LoadedModel
from neuroplast.models import create_model, logits_of
from neuroplast.registry import Registry, VersionRecord
from neuroplast.workflows.report import load_registered

__all__ = ["UpdateOutcome", "expand_classes", "update_model", "update_model_data"]

logger = logging.getLogger(__name__)


@dataclass
class UpdateOutcome:
    parent: VersionRecord
    version: VersionRecord
    strategy: str
    before: dict[str, float]
    after: dict[str, float]
    new_classes: list[str]
    seconds: float


def expand_classes(loaded: LoadedModel, names: list[str]) -> tuple[nn.Module, dict[str, Any]]:
    """A copy of the model with outputs for ``names`` (the old classes first, unchanged)."""
    old_k = len(loaded.meta.label_names)
    config = {**loaded.meta.arch_config, "num_classes": len(names)}
    model = create_model(loaded.meta.architecture, config)
    state = model.state_dict()
    for key, value in loaded.model.state_dict().items():
        target = state[key]
        if target.shape == value.shape:
            state[key] = value
        elif target.shape[1:] == value.shape[1:] and value.shape[0] == old_k:
            target[:old_k] = value  # the output layer: old rows kept, new rows fresh
        else:
            raise ConfigError(f"cannot add classes to {key}: {tuple(value.shape)}")
    model.load_state_dict(state)
    return model, config


def _read_new(path: Path, text_column: str, label_column: str) -> TextData | ImageData:
    if not path.exists():
        raise DataError(f"--data {path} does not exist; give a labelled file or image folder")
    if path.is_dir():
        return load_image_folder(path)
    return load_table(path, text_column=text_column, label_column=label_column)


def _inputs(data: TextData | ImageData, loaded: LoadedModel, rows: np.ndarray) -> Tensor:
    if isinstance(data, ImageData):
        if loaded.meta.modality != "image":
            raise DataError("the new data holds images but the model reads text")
        mean = float(loaded.meta.preprocessing.get("mean", 0.5))
        std = float(loaded.meta.preprocessing.get("std", 0.5))
        return image_tensor(data.images[rows], (-mean / std, (1.0 - mean) / std))
    if loaded.vocab is None or loaded.meta.modality != "text":
        raise DataError("the new data holds texts but the model has no vocabulary for them")
    length = int(loaded.meta.preprocessing.get("max_length", 64))
    return text_tensor(loaded.vocab, [data.texts[i] for i in rows], length)


def _split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        n = max(1, round(len(rows) * test_fraction))
        test.append(rows[:n])
        train.append(rows[n:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _require_own_data(version: VersionRecord, loaded: LoadedModel) -> None:
    """An update replays, regularises on and measures forgetting on the parent's own data:
    a model trained through the Python API on the caller's loaders has none to reload."""
    if loaded.meta.data:
        return
    texts = ""
    if loaded.meta.modality == "text" and loaded.vocab is None:
        texts = ", nor a vocabulary to read the texts of new data with"
    raise DataError(
        f"{version.ref} was trained through the Python API on your own loaders, so it records "
        f"no data config that `continual update` can reload as its old task{texts}; either "
        "keep training it in your own loop with engine.continual_learner."
        "compute_fisher_information(model_id, old_task_loader) and ewc_loss(model_id, "
        "old_params, lambda_ewc), or train it from a run config (neuroplast train / "
        "Engine.train) and update that version"
    )


def _old_task(version: VersionRecord, loaded: LoadedModel) -> Task:
    """The parent's own train / test data, from the data config it recorded."""
    _require_own_data(version, loaded)
    raw = loaded.meta.data
    try:
        cfg = DataConfig.model_validate(raw)
    except ValidationError as e:
        raise DataError(
            f"{version.ref} records no data config that `continual update` can reload (it was "
            "not trained with `neuroplast train`); train it from a config first"
        ) from e
    prepared = prepare(cfg, vocab=loaded.vocab)
    rows = {s: prepared.indices(s) for s in ("train", "test")}
    data = prepared.raw
    x = {s: _inputs(data, loaded, r) for s, r in rows.items()}
    y = {s: torch.from_numpy(data.labels[r].astype(np.int64)) for s, r in rows.items()}
    classes = sorted({int(c) for c in data.labels})
    return Task(0, classes, x["train"], y["train"], x["test"], y["test"])


def _class_names(
    parent: VersionRecord,
    loaded: LoadedModel,
    new: TextData | ImageData,
    data_path: str | Path,
    *,
    allow_new_classes: bool,
) -> tuple[list[str], list[str]]:
    """The class names after the update (the parent's first, in its order) and the new ones
    among them; new classes need ``allow_new_classes``."""
    old_names = list(loaded.meta.label_names)
    unknown = [n for n in new.label_names if n not in old_names]
    if unknown and not allow_new_classes:
        raise DataError(
            f"{data_path} has classes {parent.ref} does not know: {', '.join(unknown)} (it knows "
            f"{', '.join(old_names)}); pass --allow-new-classes to add them to the model"
        )
    return old_names + unknown, unknown


def _new_task(
    new: TextData | ImageData,
    loaded: LoadedModel,
    names: list[str],
    data_path: str | Path,
    seed: int,
) -> Task:
    """The new data as task 1: its labels coded by ``names``, a fifth of each class held out
    for testing."""
    codes = np.array([names.index(new.label_names[c]) for c in new.labels], dtype=np.int64)
    if len(np.unique(codes)) < 1 or len(codes) < 4:
        raise DataError(f"{data_path} has {len(codes)} rows; give at least a few per class")
    train, test = _split(codes, 0.2, seed)
    x_new = _inputs(new, loaded, np.arange(len(codes)))
    y_new = torch.from_numpy(codes)
    classes = sorted({int(c) for c in codes})
    return Task(1, classes, x_new[train], y_new[train], x_new[test], y_new[test])


def _stream(name: str, tasks: tuple[Task, Task], names: list[str], loaded: LoadedModel) -> Stream:
    """The old task and the new one as a class-incremental stream over ``names``."""
    return Stream(
        name=name,
        scenario="class",
        tasks=list(tasks),
        label_names=names,
        modality=loaded.meta.modality,
        vocab=loaded.vocab,
        input_shape=tuple(tasks[1].x_test.shape[1:]),
    )


def _train_config(parent: VersionRecord, epochs: int | None) -> TrainConfig:
    """The parent's train config, with ``epochs`` when given."""
    train_cfg = TrainConfig.model_validate(parent.config.get("train", {}))
    if epochs is not None:
        train_cfg = train_cfg.model_copy(update={"epochs": epochs})
    return train_cfg


def _plugins(
    strategies: list[str], options: StrategyOptions | None, buffer_size: int, seed: int
) -> list[Plugin]:
    """The strategies' plugins, their buffers (replay, iCaRL) of ``buffer_size`` examples."""
    opts = (options or StrategyOptions()).model_copy(deep=True)
    opts.replay.buffer_size = buffer_size
    opts.icarl.buffer_size = buffer_size
    return create_plugins(strategies, opts, seed=seed)


def _restore_state(
    plugins: list[Plugin], learner: ContinualLearner, old: Task, parent: VersionRecord
) -> None:
    """Each plugin's state stored with the parent, or else built from the old task."""
    state = load_plugin_state(parent)
    for plugin in plugins:
        if plugin.name in state:
            plugin.load_artifacts(state[plugin.name])
            logger.info("%s: reusing the state stored with %s", plugin.name, parent.ref)
        else:
            plugin.without_stored_state(learner, old, parent.ref)


def _metrics(
    strategy: str,
    parent: VersionRecord,
    data_path: str | Path,
    new_classes: list[str],
    scores: tuple[dict[str, float], dict[str, float]],
    tasks: tuple[Task, Task],
    started: float,
) -> dict[str, Any]:
    """The new version's metrics: the accuracies on the old and new test rows ``scores``
    (before, after) the update, and the two together as ``test_accuracy``."""
    before, after = scores
    old, new = tasks
    return {
        "strategy": strategy,
        "parent": parent.ref,
        "update_data": str(data_path),
        "new_classes": new_classes,
        **{f"{k}_before": v for k, v in before.items()},
        **{f"{k}_after": v for k, v in after.items()},
        "old_accuracy_drop": before["old_accuracy"] - after["old_accuracy"],
        # old and new test rows together, as `models list` shows it
        "test_accuracy": (
            after["old_accuracy"] * len(old.y_test) + after["new_accuracy"] * len(new.y_test)
        )
        / (len(old.y_test) + len(new.y_test)),
        "train_seconds": round(time.perf_counter() - started, 2),
    }


def update_model(
    registry: Registry,
    ref: str,
    data_path: str | Path,
    *,
    strategies: list[str],
    buffer_size: int = 2000,
    allow_new_classes: bool = False,
    epochs: int | None = None,
    name: str | None = None,
    text_column: str = "text",
    label_column: str = "label",
    options: StrategyOptions | None = None,
    seed: int = 0,
) -> UpdateOutcome:
    """Train ``ref`` on the data at ``data_path`` with ``strategies``; register the result.

    The version is checked before the file is read: a model that cannot be updated fails
    with its own reason, whatever the path says."""
    started = time.perf_counter()
    parent, loaded = load_registered(registry, ref)
    _require_own_data(parent, loaded)
    new = _read_new(Path(data_path), text_column, label_column)
    return _update_loaded(
        registry,
        (parent, loaded),
        new,
        started=started,
        source=str(data_path),
        strategies=strategies,
        buffer_size=buffer_size,
        allow_new_classes=allow_new_classes,
        epochs=epochs,
        lr=None,
        name=name,
        options=options,
        seed=seed,
    )


def update_model_data(
    registry: Registry,
    ref: str,
    new: TextData | ImageData,
    *,
    source: str,
    strategies: list[str],
    buffer_size: int = 2000,
    allow_new_classes: bool = False,
    epochs: int | None = None,
    lr: float | None = None,
    name: str | None = None,
    options: StrategyOptions | None = None,
    seed: int = 0,
) -> UpdateOutcome:
    """:func:`update_model` on data already in memory (``source`` names it in messages and
    in the new version's metrics); ``lr`` replaces the parent's learning rate."""
    started = time.perf_counter()
    parent, loaded = load_registered(registry, ref)
    _require_own_data(parent, loaded)
    return _update_loaded(
        registry,
        (parent, loaded),
        new,
        started=started,
        source=source,
        strategies=strategies,
        buffer_size=buffer_size,
        allow_new_classes=allow_new_classes,
        epochs=epochs,
        lr=lr,
        name=name,
        options=options,
        seed=seed,
    )


def _update_loaded(
    registry: Registry,
    parent_and_loaded: tuple[VersionRecord, LoadedModel],
    new: TextData | ImageData,
    *,
    started: float,
    source: str,
    strategies: list[str],
    buffer_size: int,
    allow_new_classes: bool,
    epochs: int | None,
    lr: float | None,
    name: str | None,
    options: StrategyOptions | None,
    seed: int,
) -> UpdateOutcome:
    """The update itself, on a version already loaded and checked."""
    parent, loaded = parent_and_loaded
    names, unknown = _class_names(parent, loaded, new, source, allow_new_classes=allow_new_classes)
    model, arch_config = loaded.model, dict(loaded.meta.arch_config)
    if unknown:
        model, arch_config = expand_classes(loaded, names)
    old = _old_task(parent, loaded)
    new_task = _new_task(new, loaded, names, source, seed)
    stream = _stream(f"update:{source}", (old, new_task), names, loaded)
    plugins = _plugins(strategies, options, buffer_size, seed)
    train_cfg = _train_config(parent, epochs)
    if lr is not None:
        optimizer = train_cfg.optimizer.model_copy(update={"lr": lr})
        train_cfg = train_cfg.model_copy(update={"optimizer": optimizer})
    before = _scores(loaded.model, old, new_task, len(loaded.meta.label_names))
    learner = ContinualLearner(model, stream, train_cfg, plugins, seed=seed)
    _restore_state(plugins, learner, old, parent)
    learner.fit_task(1)
    after = _scores(learner.inner, old, new_task, len(names))
    strategy = "+".join(strategies)
    metrics = _metrics(strategy, parent, source, unknown, (before, after), (old, new_task), started)
    version, _ = register_continual_version(
        registry,
        name=name or parent.model_name,
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
    return UpdateOutcome(
        parent, version, strategy, before, after, unknown, time.perf_counter() - started
    )


@torch.inference_mode()
def _scores(model: nn.Module, old: Task, new: Task, outputs: int) -> dict[str, float]:
    """Accuracy on the old task's and the new data's test rows (every output competes)."""
    was_training = model.training
    model.eval()
    out = {}
    for key, task in (("old_accuracy", old), ("new_accuracy", new)):
        logits = torch.cat(
            [logits_of(model(task.x_test[i : i + 1000])) for i in range(0, len(task.x_test), 1000)]
        )
        out[key] = float((logits[:, :outputs].argmax(1) == task.y_test).float().mean())
    model.train(was_training)
    return out
