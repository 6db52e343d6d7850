"""``neuroplast export-onnx``: a registered model to ONNX (and ONNX Runtime int8), as a new version.

The new version holds the parent's bundle plus ``model.onnx`` (and ``model.int8.onnx``),
for a text model ``tokenizer.json`` (its vocabulary as a Hugging Face ``tokenizers`` file,
so other runtimes can feed the graph: :mod:`neuroplast.tokens.hf`), and the measured
comparison table. The graph is checked against eager PyTorch on the model's recorded inputs
before anything is registered (:func:`~neuroplast.inference.onnx_files.onnx_artifacts`,
which ``ensure_onnx`` shares).
``output`` also writes a serving folder (``model.json``, ``vocab.json``, ``tokenizer.json``,
the ONNX files) that :class:`~neuroplast.inference.OnnxPredictor` loads without torch: a new
path or an existing folder, checked before anything is registered (see
:func:`~neuroplast._output_paths.check_output_dir`); files of an earlier export in it are
replaced only with ``force``. With ``if_better=True`` the version (and the serving folder) is
written only when one of its ONNX models is smaller or faster than the parent in eager torch,
within ``max_accuracy_drop`` of its accuracy (see :mod:`neuroplast.compression.verdict`).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuroplast._output_paths import check_output_dir
from neuroplast.compression.derive import register_derived
from neuroplast.compression.table import Variant, compression_table
from neuroplast.compression.verdict import (
    DEFAULT_MAX_ACCURACY_DROP,
    Decision,
    Verdict,
    check_accuracy_drop,
    judge,
    noise_warning,
    rows_with_status,
)
from neuroplast.errors import ArtifactError, ConfigError, NeuroplastError
from neuroplast.inference.bundle import LoadedModel
from neuroplast.inference.inputs import (
    NOT_MEASURED,
    measurement_inputs,
    model_data,
)
from neuroplast.inference.meta import META, ONNX, ONNX_INT8, VOCAB, WEIGHTS
from neuroplast.inference.onnx_export import OPSET
from neuroplast.inference.onnx_files import onnx_artifacts
from neuroplast.inference.onnx_predictor import OnnxPredictor
from neuroplast.inference.predictor import Predictor
from neuroplast.inference.registered import load_registered
from neuroplast.registry import Registry, VersionRecord
from neuroplast.tokens.hf import TOKENIZER

__all__ = ["ExportOutcome", "export_version"]

logger = logging.getLogger(__name__)
#: The files of a serving folder (``output``).
_SERVING_FILES = (META, VOCAB, TOKENIZER, ONNX, ONNX_INT8)


@dataclass
class ExportOutcome:
    """What ``export`` made: the new ``version`` (None when ``if_better`` found no ONNX
    model better than the parent), the measured ``table`` (first row: the parent in eager
    torch), one :class:`Decision` per row, ``warnings`` and ``notes``."""

    version: VersionRecord | None
    parent: VersionRecord
    table: list[dict[str, Any]] = field(default_factory=list)
    output: Path | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    int8: bool = False
    if_better: bool = False
    max_accuracy_drop: float = DEFAULT_MAX_ACCURACY_DROP

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``neuroplast export-onnx --json``::

            {"command": "export", "parent": "rt-cnn:1", "version": "rt-cnn:3" | null,
             "format": "onnx", "int8": true, "if_better": false, "max_accuracy_drop": 0.01,
             "files": ["model.int8.onnx", "model.onnx"], "output": "DIR" | null,
             "rows": [{<table row keys, see compression.table>,
                       "status": "parent" | "registered" | "not registered",
                       "version": "rt-cnn:3" | null, "reason": str | null}, ...],
             "warnings": [str, ...], "notes": [str, ...]}

        ``rows`` is empty with ``measure=False``.
        """
        files = (
            sorted(n for n in self.version.artifacts if n.endswith(".onnx")) if self.version else []
        )
        return {
            "command": "export",
            "parent": self.parent.ref,
            "version": self.version.ref if self.version else None,
            "format": "onnx",
            "int8": self.int8,
            "if_better": self.if_better,
            "max_accuracy_drop": self.max_accuracy_drop,
            "files": files,
            "output": str(self.output) if self.output is not None else None,
            "rows": rows_with_status(self.table, self.decisions) if self.table else [],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }


def _check_request(
    fmt: str, output: Path | None, *, force: bool, if_better: bool, measure: bool, drop: float
) -> Path | None:
    """The export's options checked before any work; the serving folder, checked."""
    if fmt != "onnx":
        raise ConfigError(f"unknown export format {fmt!r}; neuroplast export-onnxs 'onnx'")
    if output is not None:
        output = check_output_dir(Path(output), force=force, names=_SERVING_FILES)
    check_accuracy_drop(drop)
    if if_better and not measure:
        raise ConfigError(
            "--if-better compares the measured table with the parent: drop --no-measure"
        )
    return output


def _add_table(
    outcome: ExportOutcome,
    loaded: LoadedModel,
    extra: dict[str, bytes],
    test_limit: int | None,
    data: Iterable[Any] | None,
) -> None:
    """The measured table (the parent, then each ONNX model) on ``outcome``; a note when it
    cannot be measured, or measures no accuracy."""
    try:
        outcome.table = _measure(outcome.parent, loaded, extra, test_limit, data)
        if outcome.table and outcome.table[0]["accuracy"] is None:
            outcome.notes.append(NOT_MEASURED)
    except NeuroplastError as e:
        outcome.notes.append(f"no table: {e}")
        logger.warning("no table: %s", e)


def _register_or_explain(
    registry: Registry,
    outcome: ExportOutcome,
    loaded: LoadedModel,
    extra: dict[str, bytes],
    verdicts: list[Verdict],
    output: Path | None,
) -> None:
    """Register the export as a new version (and write the serving folder ``output``), or,
    with ``if_better`` and no ONNX model better than the parent, note why not."""
    parent = outcome.parent
    if outcome.if_better and not any(v.qualifies for v in verdicts):
        reasons = [f"{v.technique}: {v.reason}" for v in verdicts] or ["not measured"]
        outcome.decisions = _decisions(parent, verdicts, None)
        outcome.notes.append(f"nothing registered (--if-better): {'; '.join(reasons)}")
        if output is not None:
            outcome.notes.append(f"serving folder {output} not written: nothing registered")
        logger.info("export of %s not registered: %s", parent.ref, "; ".join(reasons))
        return
    int8 = outcome.int8
    outcome.version = register_derived(
        registry,
        parent,
        loaded,
        model=loaded.model,
        technique="onnx-int8" if int8 else "onnx",
        options={"format": "onnx", "opset": OPSET, "int8": int8},
        extra_files=extra,
        table=outcome.table or None,
    )
    outcome.decisions = _decisions(parent, verdicts, outcome.version.ref)
    if output is not None:
        outcome.output = write_serving_dir(outcome.version, output, force=True)


def _add_warnings(outcome: ExportOutcome, verdicts: list[Verdict]) -> None:
    """Each verdict's warnings (results not faster than the parent, or losing more accuracy
    than the bound), and a noisy table's."""
    for v in verdicts:
        name = (
            f"{outcome.version.ref} ({v.technique})"
            if outcome.version
            else f"{v.technique} (not registered)"
        )
        outcome.warnings += v.warnings(name, outcome.parent.ref)
    noisy = noise_warning(outcome.table)
    if noisy:
        outcome.warnings.append(noisy)


def export_version(
    registry: Registry,
    ref: str,
    *,
    int8: bool = False,
    output: Path | None = None,
    measure: bool = True,
    test_limit: int | None = 1000,
    fmt: str = "onnx",
    if_better: bool = False,
    max_accuracy_drop: float = DEFAULT_MAX_ACCURACY_DROP,
    force: bool = False,
    data: Iterable[Any] | None = None,
) -> ExportOutcome:
    """Export ``ref`` to ONNX as a new version (source ``compress``, parent ``ref``); with
    ``if_better``, only when an ONNX model beats the parent (see the module doc).

    The table is measured on ``data`` (labelled ``(inputs, labels)`` batches) when given,
    else on the model's own test split, else (a model trained through the Python API) on
    inputs shaped like its training batches, without accuracy."""
    output = _check_request(
        fmt, output, force=force, if_better=if_better, measure=measure, drop=max_accuracy_drop
    )
    parent, loaded = load_registered(registry, ref)
    extra = onnx_artifacts(loaded, ref=parent.ref, int8=int8)
    outcome = ExportOutcome(
        version=None,
        parent=parent,
        int8=int8,
        if_better=if_better,
        max_accuracy_drop=max_accuracy_drop,
    )
    if loaded.meta.modality == "text" and TOKENIZER not in extra:
        outcome.notes.append(
            f"no {TOKENIZER}: the graph takes token ids and only neuroplast can make them; "
            "pip install 'tokenizers>=0.20' and export again to write it"
        )
    if measure:
        _add_table(outcome, loaded, extra, test_limit, data)
    verdicts = [
        judge(outcome.table[0], row, max_accuracy_drop=max_accuracy_drop)
        for row in outcome.table[1:]
    ]
    _register_or_explain(registry, outcome, loaded, extra, verdicts, output)
    _add_warnings(outcome, verdicts)
    return outcome


def _measure(
    parent: VersionRecord,
    loaded: LoadedModel,
    extra: dict[str, bytes],
    test_limit: int | None,
    data: Iterable[Any] | None,
) -> list[dict[str, Any]]:
    own = model_data(loaded.meta, loaded.vocab) if loaded.meta.data and data is None else None
    test = measurement_inputs(loaded.meta, own, data=data, limit=test_limit)
    weights = parent.artifacts[WEIGHTS].size_bytes if WEIGHTS in parent.artifacts else 0
    onnx = extra[ONNX]
    variants = [
        Variant("fp32 (eager torch)", Predictor(loaded), weights),
        Variant("onnx fp32", OnnxPredictor(onnx, loaded.meta, loaded.vocab), len(onnx)),
    ]
    if ONNX_INT8 in extra:
        model = extra[ONNX_INT8]
        variants.append(
            Variant(
                "onnx int8",
                OnnxPredictor(model, loaded.meta, loaded.vocab, int8=True),
                len(model),
            )
        )
    return compression_table(variants, test)


def _decisions(
    parent: VersionRecord, verdicts: list[Verdict], version: str | None
) -> list[Decision]:
    rows = [Decision("parent", parent.ref)]
    for v in verdicts:
        if version is None:
            rows.append(Decision("not registered", reason=v.reason or "not measured"))
        else:
            rows.append(Decision("registered", version))
    return rows


def write_serving_dir(version: VersionRecord, output: Path, *, force: bool = False) -> Path:
    """Copy what a torch-free ONNX Runtime server needs into ``output`` (checked as
    :func:`export_version` does; with ``force`` an earlier export's files are replaced, and
    those this version lacks, such as a stale ``model.int8.onnx``, removed)."""
    output = check_output_dir(output, force=force, names=_SERVING_FILES)
    try:
        output.mkdir(parents=True, exist_ok=True)
        for name in _SERVING_FILES:
            artifact = version.artifacts.get(name)
            if artifact is not None:
                shutil.copyfile(artifact.path, output / name)
            else:
                (output / name).unlink(missing_ok=True)
    except OSError as e:
        raise ArtifactError(
            f"{version.ref} is registered, but its serving folder {output} cannot be written "
            f"({e.strerror or e}); write it again with "
            f"`neuroplast export-onnx {version.ref} -o DIR`"
        ) from e
    return output
