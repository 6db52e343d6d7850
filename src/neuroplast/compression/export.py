"""``neuroplast export``: a registered model to ONNX (and ONNX Runtime int8), as a new version.

The new version holds the parent's bundle plus ``model.onnx`` (and ``model.int8.onnx``) and
the measured comparison table. ``output`` also writes a serving folder (``model.json``,
``vocab.json``, the ONNX files) that :class:`~neuroplast.inference.OnnxPredictor` loads
without torch.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuroplast.compression._data import model_data, split_inputs
from neuroplast.compression.derive import register_derived
from neuroplast.compression.onnx_export import OPSET, export_onnx_bytes, quantize_onnx_int8
from neuroplast.compression.table import Variant, compression_table
from neuroplast.errors import ConfigError, NeuroplastError
from neuroplast.inference._meta import META, ONNX, ONNX_INT8, VOCAB, WEIGHTS
from neuroplast.inference.onnx_predictor import OnnxPredictor
from neuroplast.inference.predictor import Predictor
from neuroplast.registry import Registry, VersionRecord
from neuroplast.workflows.report import load_registered

__all__ = ["ExportOutcome", "export_version"]

logger = logging.getLogger(__name__)


@dataclass
class ExportOutcome:
    version: VersionRecord
    parent: VersionRecord
    table: list[dict[str, Any]] = field(default_factory=list)
    output: Path | None = None
    note: str = ""


def export_version(
    registry: Registry,
    ref: str,
    *,
    int8: bool = False,
    output: Path | None = None,
    measure: bool = True,
    test_limit: int | None = 1000,
    fmt: str = "onnx",
) -> ExportOutcome:
    """Export ``ref`` to ONNX as a new version (source ``compress``, parent ``ref``)."""
    if fmt != "onnx":
        raise ConfigError(f"unknown export format {fmt!r}; neuroplast exports 'onnx'")
    parent, loaded = load_registered(registry, ref)
    onnx = export_onnx_bytes(loaded.model, loaded.meta)
    extra = {ONNX: onnx}
    if int8:
        extra[ONNX_INT8] = quantize_onnx_int8(onnx)
    table: list[dict[str, Any]] = []
    note = ""
    if measure:
        try:
            data = model_data(loaded.meta, loaded.vocab)
            test = split_inputs(data, "test", limit=test_limit)
            weights = parent.artifacts[WEIGHTS].size_bytes if WEIGHTS in parent.artifacts else 0
            variants = [
                Variant("fp32 (eager torch)", Predictor(loaded), weights),
                Variant("onnx fp32", OnnxPredictor(onnx, loaded.meta, loaded.vocab), len(onnx)),
            ]
            if int8:
                model = extra[ONNX_INT8]
                variants.append(
                    Variant(
                        "onnx int8",
                        OnnxPredictor(model, loaded.meta, loaded.vocab, int8=True),
                        len(model),
                    )
                )
            table = compression_table(variants, test)
        except NeuroplastError as e:
            note = f"no table: {e}"
            logger.warning(note)
    record = register_derived(
        registry,
        parent,
        loaded,
        model=loaded.model,
        technique="onnx-int8" if int8 else "onnx",
        options={"format": "onnx", "opset": OPSET, "int8": int8},
        extra_files=extra,
        table=table or None,
    )
    written = None
    if output is not None:
        written = write_serving_dir(record, output)
    return ExportOutcome(version=record, parent=parent, table=table, output=written, note=note)


def write_serving_dir(version: VersionRecord, output: Path) -> Path:
    """Copy what a torch-free ONNX Runtime server needs into ``output``."""
    output.mkdir(parents=True, exist_ok=True)
    for name in (META, VOCAB, ONNX, ONNX_INT8):
        artifact = version.artifacts.get(name)
        if artifact is not None:
            shutil.copyfile(artifact.path, output / name)
    return output
