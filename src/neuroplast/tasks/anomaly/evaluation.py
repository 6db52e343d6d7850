"""Evaluate an anomaly version beside scikit-learn's IsolationForest and LocalOutlierFactor.

The version's data are split again exactly as in training (same seed), scaled with the
stored scaling and scored; the baselines are fitted in the same run on the same scaled
normal training inputs and get their thresholds by the version's rule on the same
validation inputs. ``--data FILE`` scores a labelled file of the same columns instead of a
split (the baselines still learn from the version's training split). A version trained by
``create_and_train_model`` is evaluated on the validation data it keeps (its ``test`` is
that held-out part; the baselines learn from its kept training inputs).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neuroplast.config import parse_run_config
from neuroplast.errors import ConfigError, DataError
from neuroplast.registry import Registry
from neuroplast.tasks import TaskResult
from neuroplast.tasks._store import API_SOURCE, StoredTask, api_data, load_task_version
from neuroplast.tasks._tables import numeric_columns, read_table
from neuroplast.tasks.anomaly.config import AnomalyConfig
from neuroplast.tasks.anomaly.data import AnomalySplits, label_vector, load_anomaly_data, windows
from neuroplast.tasks.anomaly.metrics import anomaly_metrics, baseline_scores, choose_threshold
from neuroplast.tasks.anomaly.models import build_model, score
from neuroplast.tasks.anomaly.state import AnomalyState
from neuroplast.tasks.anomaly.training import format_metrics

__all__ = ["anomaly_splits", "evaluate_anomaly"]

_SPLITS = ("train", "val", "test")


def _file_split(path: str, state: AnomalyState, cfg: AnomalyConfig) -> tuple[Any, Any]:
    """Inputs and labels of a labelled file (tabular rows or a series cut into windows)."""
    label = state.extra.get("label_column") or cfg.label_column
    if state.kind == "image" or label is None:
        raise ConfigError(
            "--data needs a tabular or series model trained with anomaly.label_column (the "
            "file's labels are what is evaluated)"
        )
    frame = read_table(path)
    if label not in frame.columns:
        raise DataError(f"{path}: no label column {label!r}; it has {', '.join(frame.columns)}")
    labels = label_vector(frame[label], cfg)
    x = numeric_columns(frame, state.columns, path)
    if state.kind == "tabular":
        return x, labels
    wins, starts = windows(x[:, 0], int(state.window or 0), int(state.stride or 1))
    win_labels = np.array([int(labels[s : s + wins.shape[1]].any()) for s in starts])
    return wins, win_labels


def anomaly_splits(stored: StoredTask, state: AnomalyState, config: Any) -> AnomalySplits:
    """The version's splits: re-made from its data config, or the held-out tensors a
    Python-API version keeps (validation = test)."""
    kept = api_data(stored)
    if kept is None:
        return load_anomaly_data(config.data, config.anomaly or AnomalyConfig(), state.kind)
    labels = kept.get("val_labels")
    val_labels = None if labels is None else labels.numpy().astype(np.int64)
    val = kept["val"].numpy().astype(np.float64)
    return AnomalySplits(
        kind=state.kind,
        source=f"{API_SOURCE} val_data",
        columns=state.columns,
        train=kept["train"].numpy().astype(np.float64),
        val=val,
        val_labels=val_labels,
        test=val,
        test_labels=val_labels,
    )


def evaluate_anomaly(
    registry: Registry, model: str, *, split: str = "test", data: str | None = None
) -> TaskResult:
    if split not in _SPLITS:
        raise ConfigError(f"--split {split!r}: choose one of {', '.join(_SPLITS)}")
    stored = load_task_version(registry, model, "anomaly_detection")
    state = AnomalyState.from_json(stored.state)
    config = parse_run_config(stored.version.config, where=f"{stored.version.ref}'s config")
    cfg = config.anomaly or AnomalyConfig()
    splits = anomaly_splits(stored, state, config)
    if data is not None:
        x, labels = _file_split(data, state, cfg)
        source, split = data, "file"
    else:
        x = {"train": splits.train, "val": splits.val, "test": splits.test}[split]
        labels = {"train": None, "val": splits.val_labels, "test": splits.test_labels}[split]
        source = splits.source
    net = stored.build(build_model)
    results = {"model": anomaly_metrics(score(net, state.tensor(x)).numpy(), labels, state.cut)}
    lines = [f"{stored.version.ref} on {split} ({source}): threshold {state.cut:.6g}"]
    lines.append(format_metrics(stored.version.architecture, results["model"]))
    train, val = state.tensor(splits.train).numpy(), state.tensor(splits.val).numpy()
    target = state.tensor(x).numpy()
    baselines: dict[str, Any] = {}
    for name in cfg.baselines:
        val_scores, scores, seconds = baseline_scores(
            name, train, val, target, seed=config.data.seed
        )
        cut = choose_threshold(val_scores, splits.val_labels, cfg)["threshold"]
        baselines[name] = {**anomaly_metrics(scores, labels, cut), "seconds": round(seconds, 2)}
        lines.append(format_metrics(name, baselines[name]))
    registry.add_evaluation(
        stored.version.id,
        split=split,
        data_source=source,
        metrics=results["model"],
        baseline=baselines or None,
    )
    document = {
        "version": stored.version.ref,
        "split": split,
        "data_source": source,
        "threshold": state.threshold,
        "metrics": results["model"],
        "baselines": baselines,
    }
    return TaskResult(stored.version, results["model"], document, lines)
