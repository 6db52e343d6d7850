"""The model optimizer: every compression technique by model id, measured and registered.

>>> optimizer = ModelOptimizer(Registry(home))                            # doctest: +SKIP
>>> optimizer.quantize_model("rt-cnn", quantization_type="dynamic")       # doctest: +SKIP
'rt-cnn:2'

The figures are measured on the caller's ``data=`` (a DataLoader of ``(inputs, labels)``)
when given, else on the model's own test split; a model trained through the Python API on
its caller's loaders has no split neuroplast can re-create, so without ``data=`` its size
and speed are measured on inputs shaped like its training batches (recorded at training)
and the accuracy is not measured (the notes say so).

Each call creates a new registry version (``source`` "compress", or "distill" for a
distilled student) whose parent is the compressed version, and stores the comparison table
(``compression.json`` and the version's metrics). With ``if_better=True`` only results that
are smaller or faster than the parent, within ``max_accuracy_drop`` of its accuracy, are
registered (see :mod:`neuroplast.compression.verdict`); the others are measured, reported
and leave nothing in the registry. :attr:`ModelOptimizer.last` keeps the last outcome
(versions, table, decisions, warnings, notes) for the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from neuroplast.compression.derive import register_derived
from neuroplast.compression.distill import (
    DEFAULT_ALPHA,
    DEFAULT_TEMPERATURE,
    check_distillation_settings,
)
from neuroplast.compression.table import Variant, compression_table
from neuroplast.compression.techniques import (
    Candidate,
    calibration_from_inputs,
    distill_student,
    dynamic_candidate,
    prune_candidate,
    run_config_of,
    state_bytes,
    static_candidate,
)
from neuroplast.compression.verdict import (
    DEFAULT_MAX_ACCURACY_DROP,
    Decision,
    check_accuracy_drop,
    judge,
    noise_warning,
    rows_with_status,
)
from neuroplast.data.prepare import PreparedData
from neuroplast.errors import ConfigError, NeuroplastError
from neuroplast.inference.bundle import LoadedModel
from neuroplast.inference.inputs import (
    NOT_MEASURED,
    SplitInputs,
    measurement_inputs,
    model_data,
)
from neuroplast.inference.predictor import Predictor
from neuroplast.registry import Registry, VersionRecord
from neuroplast.workflows.report import load_registered

__all__ = ["CompressOutcome", "ModelOptimizer", "QuantizationType"]

if TYPE_CHECKING:
    from neuroplast.compression.export import ExportOutcome

logger = logging.getLogger(__name__)

QuantizationType = Literal["dynamic", "static"]
DEFAULT_STUDENTS: dict[str, dict[str, Any]] = {
    "text": {"architecture": "cnn", "embedding_dim": 32, "num_filters": 32},
    "image": {"architecture": "image_mlp", "hidden_dim": 64, "num_layers": 1},
}


@dataclass
class CompressOutcome:
    """What ``compress`` made: the registered ``versions``, the measured ``table`` (first row:
    the parent), one :class:`Decision` per row, ``warnings`` (results not faster than the
    parent, or losing more accuracy than the bound) and ``notes``."""

    parent: VersionRecord
    versions: list[VersionRecord] = field(default_factory=list)
    table: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    if_better: bool = False
    max_accuracy_drop: float = DEFAULT_MAX_ACCURACY_DROP

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``neuroplast compress --json``::

        {"command": "compress", "parent": "rt-cnn:1", "if_better": false,
         "max_accuracy_drop": 0.01,
         "rows": [{<table row keys, see compression.table>,
                   "status": "parent" | "registered" | "not registered" | "compared",
                   "version": "rt-cnn:2" | null, "reason": str | null}, ...],
         "registered": ["rt-cnn:2", ...], "warnings": [str, ...], "notes": [str, ...]}
        """
        return {
            "command": "compress",
            "parent": self.parent.ref,
            "if_better": self.if_better,
            "max_accuracy_drop": self.max_accuracy_drop,
            "rows": rows_with_status(self.table, self.decisions),
            "registered": [v.ref for v in self.versions],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }


@dataclass
class _Context:
    version: VersionRecord
    loaded: LoadedModel
    #: The model's own splits (None for a model trained on the caller's loaders).
    data: PreparedData | None
    test: SplitInputs


class ModelOptimizer:
    """Quantize, prune, distill and export registered models (the Engine's ``optimizer``)."""

    def __init__(self, registry: Registry, *, test_limit: int | None = None) -> None:
        self.registry = registry
        self.test_limit = test_limit
        self.last: CompressOutcome | None = None
        self.last_export: ExportOutcome | None = None

    # ---- the seed API ------------------------------------------------------------------
    def quantize_model(
        self,
        model_id: str,
        quantization_type: str = "dynamic",
        *,
        data: Iterable[Any] | None = None,
    ) -> str:
        """int8 quantization (``"dynamic"``: Linear/LSTM; ``"static"``: image CNN/MLP);
        returns the new version's ``name:version``. ``data``: labelled batches to measure
        the accuracy on (see the module doc)."""
        return self._single(self.compress(model_id, quantize=quantization_type, data=data))

    def prune_model(
        self,
        model_id: str,
        amount: float = 0.3,
        *,
        structured: bool = False,
        finetune_epochs: int = 0,
        data: Iterable[Any] | None = None,
    ) -> str:
        """Magnitude pruning of ``amount`` of the weights; returns the new version's ref."""
        return self._single(
            self.compress(
                model_id,
                prune=amount,
                structured=structured,
                finetune_epochs=finetune_epochs,
                data=data,
            )
        )

    def distill(
        self,
        model_id: str,
        teacher_id: str,
        *,
        student_config: dict[str, Any] | None = None,
        epochs: int = 3,
        temperature: float = DEFAULT_TEMPERATURE,
        alpha: float = DEFAULT_ALPHA,
    ) -> str:
        """Train ``model_id``'s architecture (or ``student_config``) on ``teacher_id``'s soft
        labels; returns the distilled student's ref (the table also holds the same student
        trained alone). ``temperature`` softens both distributions; ``alpha`` is the weight
        of the soft-label term (``1 - alpha`` goes to the hard labels)."""
        outcome = self.compress(
            model_id,
            distill_from=teacher_id,
            student_config=student_config,
            epochs=epochs,
            temperature=temperature,
            alpha=alpha,
        )
        return outcome.versions[-1].ref

    def export_onnx(
        self,
        model_id: str,
        *,
        int8: bool = False,
        output: Path | None = None,
        data: Iterable[Any] | None = None,
    ) -> str:
        """ONNX (opset 17) as a new version; returns its ref."""
        from neuroplast.compression.export import export_version

        outcome = export_version(
            self.registry,
            model_id,
            int8=int8,
            output=output,
            test_limit=self.test_limit,
            data=data,
        )
        self.last_export = outcome
        if outcome.version is None:  # not reached: only if_better=True leaves it empty
            raise NeuroplastError(f"the export of {model_id} was not registered")
        return outcome.version.ref

    # ---- everything at once --------------------------------------------------------------
    def compress(
        self,
        model_id: str,
        *,
        quantize: str | None = None,
        prune: float | None = None,
        structured: bool = False,
        finetune_epochs: int = 0,
        distill_from: str | None = None,
        student_config: dict[str, Any] | None = None,
        epochs: int = 3,
        all_techniques: bool = False,
        temperature: float = DEFAULT_TEMPERATURE,
        alpha: float = DEFAULT_ALPHA,
        if_better: bool = False,
        max_accuracy_drop: float = DEFAULT_MAX_ACCURACY_DROP,
        data: Iterable[Any] | None = None,
    ) -> CompressOutcome:
        """Apply each requested technique to ``model_id``; one table, one version each
        (with ``if_better``, only for results smaller or faster than the parent that lose
        at most ``max_accuracy_drop`` of its test accuracy). ``data``: labelled batches to
        measure on (see the module doc)."""
        check_accuracy_drop(max_accuracy_drop)
        if quantize not in (None, "dynamic", "static"):
            raise ConfigError(f"--quantize must be dynamic or static, not {quantize!r}")
        if not (quantize or prune or distill_from or all_techniques):
            raise ConfigError(
                "nothing to do: choose --quantize dynamic|static, --prune AMOUNT, "
                "--distill-from TEACHER or --all"
            )
        if distill_from:
            check_distillation_settings(temperature, alpha)
        ctx = self._context(model_id, data)
        outcome = CompressOutcome(
            parent=ctx.version, if_better=if_better, max_accuracy_drop=max_accuracy_drop
        )
        if ctx.test.labels is None:
            outcome.notes.append(NOT_MEASURED)
        candidates: list[Candidate] = []
        modality = ctx.loaded.meta.modality
        if quantize == "dynamic" or all_techniques:
            candidates.append(dynamic_candidate(ctx.loaded))
        if quantize == "static" or (all_techniques and modality == "image"):
            calibration = None
            if ctx.data is None and ctx.test.labels is not None:  # the caller's data=
                calibration = calibration_from_inputs(ctx.test, ctx.loaded.meta)
            candidates.append(static_candidate(ctx.loaded, ctx.data, calibration=calibration))
        if all_techniques and modality == "text":
            outcome.notes.append("static int8 skipped: it applies to the image CNN / MLP paths")
        amounts = [prune] if prune else ([0.5] if all_techniques else [])
        if all_techniques and not finetune_epochs and ctx.data is None and amounts:
            outcome.notes.append(
                "pruned without fine-tuning: the model has no recorded data config to train on"
            )
        default_finetune = 1 if all_techniques and ctx.data is not None else 0
        epochs_after_pruning = finetune_epochs or default_finetune
        train = None
        if distill_from or (amounts and epochs_after_pruning and ctx.data is not None):
            train = run_config_of(ctx.version.config).train
        for amount in amounts:
            candidates.append(
                prune_candidate(
                    ctx.loaded,
                    amount,
                    structured=structured,
                    finetune_epochs=epochs_after_pruning,
                    data=ctx.data,
                    train=train,
                )
            )
        if distill_from:
            _, teacher = load_registered(self.registry, distill_from)
            teacher_data = model_data(
                teacher.meta,
                teacher.vocab,
                needed_for="training data to distill a student on (train the teacher from a "
                "run config with Engine.train)",
            )
            default = dict(run_config_of(ctx.version.config).model)
            alone, distilled = distill_student(
                teacher,
                teacher_data,
                train or run_config_of(ctx.version.config).train,
                student_config=student_config,
                default_student=default,
                epochs=epochs,
                temperature=temperature,
                alpha=alpha,
            )
            for c in (alone, distilled):
                c.options["teacher"] = distill_from
            candidates += [alone, distilled]
        elif all_techniques:
            outcome.notes.append("distillation skipped: give --distill-from TEACHER")
        parent_size = ctx.version.artifacts.get("weights.safetensors")
        baseline = Variant(
            "fp32 (parent)",
            Predictor(ctx.loaded),
            parent_size.size_bytes if parent_size else state_bytes(ctx.loaded.model),
        )
        variants = [baseline] + [
            Variant(c.technique, c.predictor, c.size_bytes) for c in candidates
        ]
        outcome.table = compression_table(variants, ctx.test)
        outcome.decisions.append(Decision("parent", ctx.version.ref))
        for candidate, row in zip(candidates, outcome.table[1:], strict=True):
            if candidate.technique.startswith("student alone"):
                # measured for the comparison, not registered
                outcome.decisions.append(Decision("compared", reason="trained without teacher"))
                continue
            verdict = judge(outcome.table[0], row, max_accuracy_drop=max_accuracy_drop)
            if if_better and not verdict.qualifies:
                outcome.decisions.append(Decision("not registered", reason=verdict.reason))
                name = f"{candidate.technique} (not registered)"
                logger.info("%s of %s not registered: %s", name, ctx.version.ref, verdict.reason)
            else:
                record = register_derived(
                    self.registry,
                    ctx.version,
                    candidate.loaded or ctx.loaded,
                    model=candidate.model,
                    technique=candidate.technique,
                    options=candidate.options,
                    source=candidate.source,
                    table=outcome.table,
                    metrics=candidate.metrics,
                    arch_config=candidate.arch_config,
                    meta_compression=candidate.meta_compression,
                    extra_files=candidate.extra_files,
                )
                outcome.versions.append(record)
                outcome.decisions.append(Decision("registered", record.ref))
                name = f"{record.ref} ({candidate.technique})"
            outcome.warnings += verdict.warnings(name, ctx.version.ref)
        noisy = noise_warning(outcome.table)
        if noisy:
            outcome.warnings.append(noisy)
        self.last = outcome
        return outcome

    # ---- internals -------------------------------------------------------------------------
    def _context(self, model_id: str, data: Iterable[Any] | None) -> _Context:
        version, loaded = load_registered(self.registry, model_id)
        if loaded.meta.compression.get("quantization"):
            raise ConfigError(f"{version.ref} is already int8; compress its fp32 parent instead")
        own = model_data(loaded.meta, loaded.vocab) if loaded.meta.data else None
        test = measurement_inputs(loaded.meta, own, data=data, limit=self.test_limit)
        return _Context(version=version, loaded=loaded, data=own, test=test)

    @staticmethod
    def _single(outcome: CompressOutcome) -> str:
        return outcome.versions[-1].ref
