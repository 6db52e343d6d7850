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

The techniques are a registry (:mod:`neuroplast.compression._registry`, one file each in
:mod:`neuroplast.compression.techniques`): the keywords of the seed API name the built-in
ones, ``techniques={"NAME": {options}}`` any registered one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from neuroplast.compression._registry import (
    CompressionTechnique,
    CompressJob,
    get_technique,
    list_techniques,
)
from neuroplast.compression.candidate import Candidate, state_bytes
from neuroplast.compression.derive import register_derived
from neuroplast.compression.table import Variant, compression_table
from neuroplast.compression.techniques.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE
from neuroplast.compression.verdict import (
    DEFAULT_MAX_ACCURACY_DROP,
    Decision,
    check_accuracy_drop,
    judge,
    noise_warning,
    rows_with_status,
)
from neuroplast.errors import ConfigError, NeuroplastError
from neuroplast.inference.inputs import NOT_MEASURED, measurement_inputs, model_data
from neuroplast.inference.predictor import Predictor
from neuroplast.inference.registered import load_registered
from neuroplast.registry import Registry, VersionRecord

__all__ = ["CompressOutcome", "ModelOptimizer", "QuantizationType", "plan_techniques"]

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


@dataclass(frozen=True)
class _Step:
    """One technique of a compress call, its typed options, and whether it was asked for
    by name (else ``--all`` brought it, and it may skip a model it does not apply to)."""

    technique: CompressionTechnique
    options: Any
    explicit: bool


def plan_techniques(
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
    techniques: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[_Step]:
    """The techniques one compress call runs, in their listing order, each with its options
    checked: those the seed API's keywords name (``quantize``, ``prune``, ``distill_from``)
    or ``techniques`` does (name -> options), and with ``all_techniques`` every other one
    that ``--all`` runs, configured by the same keywords."""
    quantizations = list_techniques(quantization=True)
    if quantize is not None and quantize not in quantizations:
        raise ConfigError(f"--quantize must be {' or '.join(quantizations)}, not {quantize!r}")
    if not (quantize or prune or distill_from or all_techniques or techniques):
        raise ConfigError(
            f"nothing to do: choose --quantize {'|'.join(quantizations)}, --prune AMOUNT, "
            "--distill-from TEACHER or --all"
        )
    from_keywords: dict[str, dict[str, Any]] = {
        "prune": {"structured": structured, "finetune_epochs": finetune_epochs or None},
        "distill": {
            "teacher": distill_from,
            "student_config": student_config,
            "epochs": epochs,
            "temperature": temperature,
            "alpha": alpha,
        },
    }
    if prune:
        from_keywords["prune"]["amount"] = prune
    named = [quantize, "prune" if prune else None, "distill" if distill_from else None]
    requested = {name: from_keywords.get(name, {}) for name in named if name}
    requested.update({name: dict(options) for name, options in (techniques or {}).items()})
    for name in requested:
        get_technique(name)  # an unknown name is an error that lists the known ones
    steps = []
    for name in list_techniques():
        technique = get_technique(name)
        if name in requested or (all_techniques and technique.in_all):
            options = requested.get(name, from_keywords.get(name, {}))
            steps.append(_Step(technique, technique.parse(options), name in requested))
    return steps


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
        techniques: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> CompressOutcome:
        """Apply each requested technique to ``model_id``; one table, one version each
        (with ``if_better``, only for results smaller or faster than the parent that lose
        at most ``max_accuracy_drop`` of its test accuracy). ``data``: labelled batches to
        measure on (see the module doc). ``techniques``: more techniques by registered name,
        each with its options (``{"prune": {"amount": 0.3}}``)."""
        check_accuracy_drop(max_accuracy_drop)
        steps = plan_techniques(
            quantize=quantize,
            prune=prune,
            structured=structured,
            finetune_epochs=finetune_epochs,
            distill_from=distill_from,
            student_config=student_config,
            epochs=epochs,
            all_techniques=all_techniques,
            temperature=temperature,
            alpha=alpha,
            techniques=techniques,
        )
        job = self._job(model_id, data, all_techniques=all_techniques)
        outcome = CompressOutcome(
            parent=job.version,
            notes=job.notes,
            if_better=if_better,
            max_accuracy_drop=max_accuracy_drop,
        )
        candidates = _candidates(steps, job)
        outcome.table = compression_table(_variants(job, candidates), job.test)
        self._register(outcome, job, candidates)
        noisy = noise_warning(outcome.table)
        if noisy:
            outcome.warnings.append(noisy)
        self.last = outcome
        return outcome

    # ---- internals -------------------------------------------------------------------------
    def _job(
        self, model_id: str, data: Iterable[Any] | None, *, all_techniques: bool
    ) -> CompressJob:
        version, loaded = load_registered(self.registry, model_id)
        if loaded.meta.compression.get("quantization"):
            raise ConfigError(f"{version.ref} is already int8; compress its fp32 parent instead")
        own = model_data(loaded.meta, loaded.vocab) if loaded.meta.data else None
        test = measurement_inputs(loaded.meta, own, data=data, limit=self.test_limit)
        notes = [NOT_MEASURED] if test.labels is None else []
        return CompressJob(self.registry, version, loaded, own, test, all_techniques, notes)

    def _register(
        self, outcome: CompressOutcome, job: CompressJob, candidates: list[Candidate]
    ) -> None:
        """One decision per row: registered (a new version), not registered (``if_better``
        and it does not qualify) or compared only; the warnings of each verdict."""
        parent = job.version
        outcome.decisions.append(Decision("parent", parent.ref))
        for candidate, row in zip(candidates, outcome.table[1:], strict=True):
            if candidate.compared_only:  # measured for the comparison, not registered
                outcome.decisions.append(Decision("compared", reason=candidate.compared_only))
                continue
            verdict = judge(outcome.table[0], row, max_accuracy_drop=outcome.max_accuracy_drop)
            if outcome.if_better and not verdict.qualifies:
                outcome.decisions.append(Decision("not registered", reason=verdict.reason))
                name = f"{candidate.technique} (not registered)"
                logger.info("%s of %s not registered: %s", name, parent.ref, verdict.reason)
            else:
                record = register_derived(
                    self.registry,
                    parent,
                    candidate.loaded or job.loaded,
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
            outcome.warnings += verdict.warnings(name, parent.ref)

    @staticmethod
    def _single(outcome: CompressOutcome) -> str:
        return outcome.versions[-1].ref


def _candidates(steps: list[_Step], job: CompressJob) -> list[Candidate]:
    """Every step's candidates, in order; a step ``--all`` brought that does not apply to
    the model leaves a note instead."""
    candidates: list[Candidate] = []
    for step in steps:
        note = None if step.explicit else step.technique.skipped(job, step.options)
        if note is not None:
            job.notes.append(note)
            continue
        candidates += step.technique.candidates(job, step.options)
    return candidates


def _variants(job: CompressJob, candidates: list[Candidate]) -> list[Variant]:
    """What the table measures: the parent (eager fp32, its stored weights' size) first,
    then each candidate."""
    parent_size = job.version.artifacts.get("weights.safetensors")
    baseline = Variant(
        "fp32 (parent)",
        Predictor(job.loaded),
        parent_size.size_bytes if parent_size else state_bytes(job.loaded.model),
    )
    return [baseline] + [Variant(c.technique, c.predictor, c.size_bytes) for c in candidates]
