"""Evaluate a model on a split or a file, draw the plots and record the result."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuroplast.config import DataConfig
from neuroplast.data import TextData
from neuroplast.data.prepare import PreparedData, Split, as_test_set, load_source, prepare
from neuroplast.errors import ConfigError, DataError
from neuroplast.evaluation import (
    EvalResult,
    evaluate_model,
    metrics_from_probabilities,
    plot_confusion_matrix,
    plot_training_curves,
    tfidf_baseline,
)
from neuroplast.inference.bundle import LoadedModel, ModelMeta
from neuroplast.inference.registered import load_registered
from neuroplast.registry import Registry, VersionRecord, sha256_file
from neuroplast.types import ModelMetrics

__all__ = [
    "EvaluationReport",
    "ProbaFn",
    "evaluate_and_record",
    "evaluate_registered",
    "load_registered",
    "record_evaluation",
]

ProbaFn = Callable[[Any], np.ndarray]  # raw texts or uint8 images -> probabilities [N, K]

logger = logging.getLogger(__name__)


@dataclass
class EvaluationReport:
    version: VersionRecord
    split: str
    data_source: str
    result: EvalResult
    baseline: EvalResult | None
    plots: dict[str, Path] = field(default_factory=dict)
    plot_files: list[tuple[Path, str]] = field(default_factory=list)
    note: str = ""


def evaluate_and_record(
    registry: Registry,
    version: VersionRecord,
    model: nn.Module,
    loader: Iterable[Any],
    label_names: Sequence[str],
    *,
    split: str,
    data_source: str,
    baseline: EvalResult | None,
    history: Sequence[ModelMetrics] | None = None,
    device: torch.device | None = None,
) -> EvaluationReport:
    result = evaluate_model(model, loader, label_names, device)
    return record_evaluation(
        registry,
        version,
        result,
        split=split,
        data_source=data_source,
        baseline=baseline,
        history=history,
    )


def record_evaluation(
    registry: Registry,
    version: VersionRecord,
    result: EvalResult,
    *,
    split: str,
    data_source: str,
    baseline: EvalResult | None,
    history: Sequence[ModelMetrics] | None = None,
) -> EvaluationReport:
    """Plot and store ``result`` as an evaluation of ``version``."""
    plot_dir = version.artifact_dir / "plots"
    tag = split.replace("/", "_").replace(".", "_")
    plots = {
        "confusion_matrix": plot_confusion_matrix(
            result.confusion_matrix,
            result.label_names,
            plot_dir / f"confusion_{tag}.png",
            f"{version.ref} on {split}: accuracy {result.accuracy:.3f}",
        )
    }
    if history:
        plots["training_curves"] = plot_training_curves(
            history, plot_dir / "training_curves.png", f"{version.ref} training"
        )
    registry.add_evaluation(
        version.id,
        split=split,
        data_source=data_source,
        metrics=result.to_dict(),
        baseline=None if baseline is None else baseline.to_dict(),
        plots={k: str(p) for k, p in plots.items()},
    )
    return EvaluationReport(
        version=version,
        split=split,
        data_source=data_source,
        result=result,
        baseline=baseline,
        plots=plots,
        plot_files=[(p, sha256_file(p)) for p in plots.values()],
    )


def _data_config(ref: str, meta: ModelMeta, split: Split, data_path: str | None) -> DataConfig:
    """The data config the model was trained with, or one reading ``data_path`` for a model
    trained through the Python API on the caller's own loaders (which needs it)."""
    if meta.data:
        return DataConfig.model_validate(meta.data)
    if data_path is None:
        raise ConfigError(
            f"{ref} was trained on data neuroplast did not load, so it has no {split} "
            "split to re-create; evaluate it on a labelled file with --data FILE"
        )
    return DataConfig(path=data_path)


@dataclass
class _EvalData:
    """What an evaluation reads: ``data``'s ``split`` (named ``label`` in the record), the
    model's own training data when it can be loaded (for the baseline), and a note."""

    data: PreparedData
    split: Split
    label: str
    original: PreparedData | None = None
    note: str = ""


def _eval_data(
    ref: str, loaded: LoadedModel, data_cfg: DataConfig, split: Split, data_path: str | None
) -> _EvalData:
    """The model's own ``split``, or every row of the labelled file at ``data_path``."""
    meta = loaded.meta
    if data_path is None:
        original = prepare(data_cfg, vocab=loaded.vocab)
        return _EvalData(original, split, str(split), original)
    max_length = int(meta.preprocessing.get("max_length", data_cfg.max_length))
    raw = load_source(data_cfg, label_names=meta.label_names, path=data_path)
    if raw.modality != meta.modality:
        raise DataError(f"{data_path}: holds {raw.modality}s but {ref} takes {meta.modality}s")
    chosen = _EvalData(
        as_test_set(raw, vocab=loaded.vocab, max_length=max_length),
        "test",
        f"file:{Path(data_path).name}",
    )
    if meta.modality == "text" and meta.data:
        try:
            chosen.original = prepare(data_cfg, vocab=loaded.vocab)
        except DataError as e:
            chosen.note = f"no baseline: the training data cannot be loaded ({e})"
            logger.warning(chosen.note)
    return chosen


def _baseline(
    version: VersionRecord, chosen: _EvalData, label_names: list[str], seed: int
) -> EvalResult | None:
    """TF-IDF + logistic regression trained on the model's own training texts and scored on
    the same rows (None for images, without the training data, or when the run's
    ``evaluation.baseline`` is false)."""
    original, data = chosen.original, chosen.data
    wanted = (version.config.get("evaluation") or {}).get("baseline", True)
    if original is None or not isinstance(original.raw, TextData) or not wanted:
        return None
    baseline, _ = tfidf_baseline(
        original.texts("train"),
        original.labels("train"),
        data.texts(chosen.split),
        data.labels(chosen.split),
        label_names,
        seed=seed,
    )
    return baseline


def _proba_result(chosen: _EvalData, predict_proba: ProbaFn, label_names: list[str]) -> EvalResult:
    """The metrics of ``predict_proba`` run on the split's raw inputs (texts or images)."""
    idx = chosen.data.indices(chosen.split)
    raw = chosen.data.raw
    inputs = [raw.texts[i] for i in idx] if isinstance(raw, TextData) else raw.images[idx]
    probs = torch.from_numpy(np.asarray(predict_proba(inputs), dtype=np.float32))
    targets = torch.from_numpy(np.asarray(raw.labels[idx], dtype=np.int64))
    return metrics_from_probabilities(probs, targets, label_names)


def evaluate_registered(
    registry: Registry,
    ref: str,
    *,
    split: Split = "test",
    data_path: str | None = None,
    batch_size: int = 256,
    proba_for: Callable[[VersionRecord, LoadedModel], ProbaFn] | None = None,
) -> EvaluationReport:
    """Evaluate a registered model on one of its own splits or on another labelled file.

    ``proba_for(version, loaded)`` returns a function from raw texts or uint8 images to
    probabilities ``[N, K]``, typically a Predictor's ``predict_proba`` built on the bundle
    loaded here; it scores the split's raw inputs end to end (tokenization, backend)
    instead of running the loaded PyTorch model on the split's batches."""
    version, loaded = load_registered(registry, ref)
    meta = loaded.meta
    data_cfg = _data_config(ref, meta, split, data_path)
    chosen = _eval_data(ref, loaded, data_cfg, split, data_path)
    baseline = _baseline(version, chosen, meta.label_names, data_cfg.seed)
    if proba_for is None:
        min_length = int(meta.preprocessing.get("min_length", 1))
        loader = chosen.data.loader(
            chosen.split, batch_size=batch_size, shuffle=False, min_length=min_length
        )
        result = evaluate_model(loaded.model, loader, meta.label_names)
    else:
        result = _proba_result(chosen, proba_for(version, loaded), meta.label_names)
    report = record_evaluation(
        registry,
        version,
        result,
        split=chosen.label,
        data_source=data_path or chosen.data.raw.source,
        baseline=baseline,
    )
    report.note = chosen.note
    return report
