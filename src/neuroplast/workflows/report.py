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
from neuroplast.inference.bundle import LoadedModel
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
    if not meta.data:  # trained through the Python API on the caller's own loaders
        if data_path is None:
            raise ConfigError(
                f"{ref} was trained on data neuroplast did not load, so it has no {split} "
                "split to re-create; evaluate it on a labelled file with --data FILE"
            )
        data_cfg = DataConfig(path=data_path)
    else:
        data_cfg = DataConfig.model_validate(meta.data)
    min_length = int(meta.preprocessing.get("min_length", 1))
    max_length = int(meta.preprocessing.get("max_length", data_cfg.max_length))
    original: PreparedData | None = None
    eval_split: Split = split
    note = ""
    if data_path is None:
        original = prepare(data_cfg, vocab=loaded.vocab)
        data, label = original, str(split)
    else:
        raw = load_source(data_cfg, label_names=meta.label_names, path=data_path)
        if raw.modality != meta.modality:
            raise DataError(f"{data_path}: holds {raw.modality}s but {ref} takes {meta.modality}s")
        data = as_test_set(raw, vocab=loaded.vocab, max_length=max_length)
        eval_split, label = "test", f"file:{Path(data_path).name}"
        if meta.modality == "text" and meta.data:
            try:
                original = prepare(data_cfg, vocab=loaded.vocab)
            except DataError as e:
                note = f"no baseline: the training data cannot be loaded ({e})"
                logger.warning(note)
    baseline = None
    wanted = (version.config.get("evaluation") or {}).get("baseline", True)  # evaluation.baseline
    if original is not None and isinstance(original.raw, TextData) and wanted:
        baseline, _ = tfidf_baseline(
            original.texts("train"),
            original.labels("train"),
            data.texts(eval_split),
            data.labels(eval_split),
            meta.label_names,
            seed=data_cfg.seed,
        )
    if proba_for is None:
        loader = data.loader(
            eval_split, batch_size=batch_size, shuffle=False, min_length=min_length
        )
        result = evaluate_model(loaded.model, loader, meta.label_names)
    else:
        idx = data.indices(eval_split)
        raw = data.raw
        inputs = [raw.texts[i] for i in idx] if isinstance(raw, TextData) else raw.images[idx]
        predict_proba = proba_for(version, loaded)
        probs = torch.from_numpy(np.asarray(predict_proba(inputs), dtype=np.float32))
        targets = torch.from_numpy(np.asarray(raw.labels[idx], dtype=np.int64))
        result = metrics_from_probabilities(probs, targets, meta.label_names)
    report = record_evaluation(
        registry,
        version,
        result,
        split=label,
        data_source=data_path or data.raw.source,
        baseline=baseline,
    )
    report.note = note
    return report
