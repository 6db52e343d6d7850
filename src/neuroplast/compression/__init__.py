"""Compression: int8 quantization, pruning, distillation and ONNX export, each measured and
registered as a new version. Names are imported on first use (they pull in torch)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast._lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from neuroplast.compression._registry import (
        CompressionTechnique,
        CompressJob,
        TechniqueOptions,
        get_technique,
        list_techniques,
        register_technique,
        techniques_help,
    )
    from neuroplast.compression.candidate import Candidate
    from neuroplast.compression.export import ExportOutcome, export_version
    from neuroplast.compression.optimizer import CompressOutcome, ModelOptimizer
    from neuroplast.inference.onnx_export import export_onnx_bytes, quantize_onnx_int8
    from neuroplast.inference.quantize import dynamic_int8, static_int8

__all__ = [
    "Candidate",
    "CompressJob",
    "CompressOutcome",
    "CompressionTechnique",
    "ExportOutcome",
    "ModelOptimizer",
    "TechniqueOptions",
    "dynamic_int8",
    "export_onnx_bytes",
    "export_version",
    "get_technique",
    "list_techniques",
    "quantize_onnx_int8",
    "register_technique",
    "static_int8",
    "techniques_help",
]

_HOMES = {
    "Candidate": "neuroplast.compression.candidate",
    "CompressJob": "neuroplast.compression._registry",
    "CompressionTechnique": "neuroplast.compression._registry",
    "TechniqueOptions": "neuroplast.compression._registry",
    "get_technique": "neuroplast.compression._registry",
    "list_techniques": "neuroplast.compression._registry",
    "register_technique": "neuroplast.compression._registry",
    "techniques_help": "neuroplast.compression._registry",
    "CompressOutcome": "neuroplast.compression.optimizer",
    "ModelOptimizer": "neuroplast.compression.optimizer",
    "ExportOutcome": "neuroplast.compression.export",
    "export_version": "neuroplast.compression.export",
    "export_onnx_bytes": "neuroplast.inference.onnx_export",
    "quantize_onnx_int8": "neuroplast.inference.onnx_export",
    "dynamic_int8": "neuroplast.inference.quantize",
    "static_int8": "neuroplast.inference.quantize",
}


__getattr__, __dir__ = _lazy_exports(__name__, _HOMES, __all__)
