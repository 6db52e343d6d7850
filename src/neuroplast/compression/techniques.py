"""Each compression technique as one function: parent model in, measured candidate out.

A :class:`Candidate` holds the fp32 module the new version stores (int8 versions store
fp32 weights and are re-quantized, deterministically, when loaded), the predictor that
the table measures and the size of what would ship.
"""

from __future__ import annotations

import copy
import io
import logging
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuroplast.compression.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE, DistillationLoss
from neuroplast.compression.prune import KeepPruned, prune_copy, sparsity
from neuroplast.config import RunConfig, TrainConfig
from neuroplast.data.prepare import PreparedData
from neuroplast.errors import ConfigError
from neuroplast.inference.base import BasePredictor
from neuroplast.inference.bundle import LoadedModel
from neuroplast.inference.inputs import SplitInputs
from neuroplast.inference.meta import ModelMeta
from neuroplast.inference.predictor import Predictor
from neuroplast.inference.qstate import STATIC_INT8, dump_quantized
from neuroplast.inference.quantize import calibration_batches, static_int8
from neuroplast.models import create_model
from neuroplast.training import Trainer
from neuroplast.workflows.train import complete_arch_config

__all__ = [
    "Candidate",
    "calibration_batches",
    "calibration_from_inputs",
    "distill_student",
    "dynamic_candidate",
    "prune_candidate",
    "run_config_of",
    "state_bytes",
    "static_candidate",
]

logger = logging.getLogger(__name__)


@dataclass
class Candidate:
    technique: str
    model: nn.Module
    predictor: BasePredictor
    size_bytes: int
    options: dict[str, Any] = field(default_factory=dict)
    meta_compression: dict[str, Any] = field(default_factory=dict)
    arch_config: dict[str, Any] | None = None
    source: str = "compress"
    metrics: dict[str, Any] = field(default_factory=dict)
    #: What the new version's bundle is written from (default: the parent's meta/vocab).
    loaded: LoadedModel | None = None
    #: Files stored beside the bundle (the int8 state of a static version).
    extra_files: dict[str, bytes] = field(default_factory=dict)


def state_bytes(model: nn.Module) -> int:
    """Bytes of the model's state (int8 packed weights included), serialised in memory."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def run_config_of(config: dict[str, Any]) -> RunConfig:
    """The run config a version was trained with (compression notes removed)."""
    clean = {k: v for k, v in config.items() if k != "compression"}
    try:
        return RunConfig.model_validate(clean)
    except ValueError as e:
        raise ConfigError(
            f"this version has no usable training config ({e}); it was trained through the "
            "Python API, so its data cannot be re-created for fine-tuning or distillation"
        ) from e


def _with_model(loaded: LoadedModel, model: nn.Module) -> LoadedModel:
    return LoadedModel(model=model, meta=loaded.meta, vocab=loaded.vocab)


def dynamic_candidate(loaded: LoadedModel) -> Candidate:
    predictor = Predictor(loaded, quantized=True)
    return Candidate(
        technique="dynamic int8",
        model=loaded.model,
        predictor=predictor,
        size_bytes=state_bytes(predictor.model),
        options={"quantization": "dynamic", "dtype": "qint8", "layers": ["Linear", "LSTM"]},
        meta_compression={"quantization": "dynamic"},
    )


def calibration_from_inputs(
    inputs: SplitInputs, meta: ModelMeta, *, batches: int = 16, batch_size: int = 64
) -> list[torch.Tensor]:
    """Model-ready image batches from measured ``inputs`` (the caller's ``data=``): uint8
    images normalised as the Predictor does, float ones as they are."""
    if inputs.kind == "ids":
        raise ConfigError("static int8 calibrates image models; this data holds token ids")
    x = torch.from_numpy(np.asarray(inputs.inputs))
    if inputs.kind == "raw":
        mean = float(meta.preprocessing.get("mean", 0.5))
        std = float(meta.preprocessing.get("std", 0.5))
        x = (x.float() / 255.0 - mean) / std
    return [x[s : s + batch_size].float() for s in range(0, len(x), batch_size)][:batches]


def static_candidate(
    loaded: LoadedModel,
    data: PreparedData | None,
    *,
    batches: int = 16,
    calibration: list[torch.Tensor] | None = None,
) -> Candidate:
    """Static int8 calibrated on ``calibration`` (model-ready image batches, e.g. the
    caller's ``data=``) or else on the first ``batches`` training batches of ``data``."""
    if loaded.meta.modality != "image":
        raise ConfigError(
            "--quantize static applies to the image CNN / MLP paths; use --quantize dynamic "
            "for text models"
        )
    if calibration:
        source, batches = f"data=, {len(calibration)} batches", len(calibration)
    elif data is not None:
        calibration = calibration_batches(data, batches=batches)
        source = f"train, {batches} batches of 64"
    else:
        raise ConfigError(
            f"static int8 calibrates its activation ranges on real images, and "
            f"{loaded.meta.name or 'this model'} was trained through the Python API (no "
            "recorded data config): pass data= (a DataLoader of (images, labels)), or use "
            "quantization_type='dynamic', which needs no data"
        )
    quantized = static_int8(loaded.model, calibration, modality="image")
    stored = dump_quantized(quantized)
    return Candidate(
        technique="static int8",
        model=loaded.model,
        predictor=Predictor(loaded, model=quantized, backend_name="torch-int8-static"),
        size_bytes=len(stored),
        extra_files={STATIC_INT8: stored},
        options={"quantization": "static", "calibration": source},
        meta_compression={"quantization": "static", "calibration_batches": batches},
    )


def _fit(
    model: nn.Module,
    data: PreparedData,
    train: TrainConfig,
    *,
    min_length: int,
    callbacks: list[Any],
) -> list[Any]:
    train_loader = data.loader(
        "train", batch_size=train.batch_size, shuffle=True, seed=train.seed, min_length=min_length
    )
    val_loader = data.loader(
        "val", batch_size=train.eval_batch_size, shuffle=False, min_length=min_length
    )
    with tempfile.TemporaryDirectory(prefix="neuroplast-compress-") as tmp:
        trainer = Trainer(train, callbacks=callbacks, checkpoint_dir=Path(tmp))
        history = trainer.fit(model, train_loader, val_loader)
        trainer.load_best_weights(model)
    model.eval()
    return history


def prune_candidate(
    loaded: LoadedModel,
    amount: float,
    *,
    structured: bool = False,
    finetune_epochs: int = 0,
    data: PreparedData | None = None,
    train: TrainConfig | None = None,
) -> Candidate:
    pruned, masks = prune_copy(loaded.model, amount, structured=structured)
    if finetune_epochs > 0:
        if data is None or train is None:
            raise ConfigError(
                f"fine-tuning after pruning trains on the model's own data, and "
                f"{loaded.meta.name or 'this model'} was trained through the Python API (no "
                "recorded data or train config): prune with finetune_epochs=0, or train it "
                "from a run config (Engine.train) so that its data can be re-created"
            )
        lr = train.optimizer.lr * 0.1
        config = train.model_copy(
            update={
                "epochs": finetune_epochs,
                "optimizer": train.optimizer.model_copy(update={"lr": lr}),
            }
        )
        min_length = int(loaded.meta.preprocessing.get("min_length", 1))
        _fit(pruned, data, config, min_length=min_length, callbacks=[KeepPruned(pruned, masks)])
    pruned.eval()
    zeros = sparsity(pruned, masks)
    kind = "structured" if structured else "unstructured"
    return Candidate(
        technique=f"pruned {amount:.0%} {kind}"
        + (f" +{finetune_epochs} ep" if finetune_epochs else ""),
        model=pruned,
        predictor=Predictor(_with_model(loaded, pruned)),
        size_bytes=state_bytes(pruned),
        options={
            "prune_amount": amount,
            "structured": structured,
            "finetune_epochs": finetune_epochs,
            "sparsity": round(zeros, 4),
        },
        metrics={"sparsity": round(zeros, 4)},
    )


def _student_options(
    student_config: dict[str, Any] | None, default: dict[str, Any]
) -> dict[str, Any]:
    options = dict(student_config or default)
    options = dict(options.get("model", options))  # a run config's model section, or the keys
    if "architecture" not in options:
        raise ConfigError("the student config needs an 'architecture' key (see neuroplast init)")
    options.pop("pretrained_embeddings", None)
    return options


def distill_student(
    teacher: LoadedModel,
    data: PreparedData,
    train: TrainConfig,
    *,
    student_config: dict[str, Any] | None,
    default_student: dict[str, Any],
    epochs: int,
    temperature: float = DEFAULT_TEMPERATURE,
    alpha: float = DEFAULT_ALPHA,
) -> tuple[Candidate, Candidate]:
    """(student trained alone on hard labels, student trained on the teacher's soft labels),
    same architecture, data, batches, epochs and seed."""
    options = _student_options(student_config, default_student)
    architecture = str(options.pop("architecture"))
    arch_config = complete_arch_config(architecture, options, data)
    # Both arms see batches padded for the teacher too (a CNN teacher needs its widest filter).
    teacher_min = int(teacher.meta.preprocessing.get("min_length", 1))
    min_length = max([teacher_min, *arch_config.get("filter_sizes", [])])
    config = train.model_copy(update={"epochs": epochs})
    meta = teacher.meta
    preprocessing = dict(meta.preprocessing)
    if meta.modality == "text":
        preprocessing["min_length"] = min_length
    student_meta = replace(
        meta, architecture=architecture, arch_config=arch_config, preprocessing=preprocessing
    )
    results = []
    for distilled in (False, True):
        torch.manual_seed(config.seed)
        student = create_model(architecture, arch_config)
        callbacks: list[Any] = []
        if distilled:
            callbacks.append(
                DistillationLoss(
                    student, copy.deepcopy(teacher.model), temperature=temperature, alpha=alpha
                )
            )
        history = _fit(student, data, config, min_length=min_length, callbacks=callbacks)
        loaded = LoadedModel(model=student, meta=student_meta, vocab=teacher.vocab)
        label = "distilled student" if distilled else "student alone (hard labels)"
        results.append(
            Candidate(
                technique=f"{label} ({architecture})",
                model=student,
                predictor=Predictor(loaded),
                size_bytes=state_bytes(student),
                options={
                    "student": {"architecture": architecture, **options},
                    "epochs": epochs,
                    "seed": config.seed,
                    **({"temperature": temperature, "alpha": alpha} if distilled else {}),
                },
                arch_config=arch_config,
                source="distill",
                metrics={"epochs_run": len(history)},
                loaded=loaded,
            )
        )
    return results[0], results[1]
