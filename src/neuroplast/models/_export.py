"""Whether a model is being traced for export (its export paths avoid what ONNX lacks)."""

from __future__ import annotations

import torch

__all__ = ["exporting"]


def exporting() -> bool:
    """True while ``torch.onnx.export`` or ``torch.export`` traces a model."""
    return bool(torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting())
