"""ONNX export (opset 17, dynamic batch and sequence length) and ONNX Runtime int8.

Text models take ``input`` int64 token ids ``[batch, sequence]`` (padding id 0); image models
take ``input`` float32 ``[batch, channels, size, size]``, normalised as in training. Both
return ``logits`` ``[batch, num_classes]``. Recurrent models switch to their export path
(no packed sequences) automatically while being exported; the outputs are the same.
"""

from __future__ import annotations

import io
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from neuroplast.errors import ArtifactError, ConfigError
from neuroplast.inference.inputs import recorded_inputs
from neuroplast.inference.meta import ModelMeta
from neuroplast.models import logits_of

__all__ = ["OPSET", "example_input", "export_onnx_bytes", "quantize_onnx_int8"]

logger = logging.getLogger(__name__)

OPSET = 17


class _LogitsOnly(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return logits_of(self.model(x))


def example_input(meta: ModelMeta) -> torch.Tensor:
    """A small batch of the model's input type, used to trace it: two of the token id rows
    training recorded (see :mod:`neuroplast.inference.inputs`), else ids of a fixed
    pattern with padding, and zero images of the model's recorded input shape."""
    spec = recorded_inputs(meta)
    if meta.modality == "text":
        sample = spec.get("sample") or []
        if len(sample) >= 2:
            return torch.tensor(sample[:2], dtype=torch.long)
        vocab_size = int(meta.arch_config.get("vocab_size", 3))
        width = max(12, int(meta.preprocessing.get("min_length", 1)))
        ids = (torch.arange(2 * width, dtype=torch.long).reshape(2, width) % (vocab_size - 2)) + 2
        ids[1, 5:] = 0
        return ids
    return torch.zeros((2, *map(int, spec["shape"])), dtype=torch.float32)


def export_onnx_bytes(model: nn.Module, meta: ModelMeta, *, opset: int = OPSET) -> bytes:
    """The ONNX model (fp32) of ``model``, which is put in eval mode on the CPU."""
    if opset < OPSET:
        raise ConfigError(f"opset {opset} is too old: neuroplast exports opset >= {OPSET}")
    export_copy = getattr(model, "export_copy", None)  # e.g. LoRA adapters folded in
    model = (export_copy() if callable(export_copy) else model).cpu().eval()
    axes: dict[str, dict[int, str]] = {"input": {0: "batch"}, "logits": {0: "batch"}}
    if meta.modality == "text":
        axes["input"][1] = "sequence"
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of torch.export (which needs
        # onnxscript); it exports every architecture here and its graphs run in ORT.
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                _LogitsOnly(model).eval(),
                (example_input(meta),),
                cast(Any, buffer),  # the TorchScript exporter writes to file objects
                dynamo=False,
                opset_version=opset,
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes=axes,
                do_constant_folding=True,
            )
        except Exception as e:  # the exporter raises many unrelated types
            raise ArtifactError(f"cannot export {meta.architecture} to ONNX: {e}") from e
    data = buffer.getvalue()
    logger.info("exported %s to ONNX (%d bytes, opset %d)", meta.architecture, len(data), opset)
    return data


def quantize_onnx_int8(model: bytes, **options: Any) -> bytes:
    """ONNX Runtime dynamic int8 quantization (weights int8, activations quantized per call)
    of the MatMul/Gemm and LSTM nodes (its int8 Conv measured slower than fp32 here)."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        raise ConfigError("ONNX int8 needs onnxruntime: pip install 'onnxruntime>=1.20,<2'") from e
    with tempfile.TemporaryDirectory(prefix="neuroplast-onnx-") as tmp:
        source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        source.write_bytes(model)
        # onnxruntime's quantizer logs advice on the root logger; keep the output clean.
        logging.disable(logging.WARNING)
        try:
            quantize_dynamic(
                source,
                target,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=options.pop("op_types", ["MatMul", "Gemm", "LSTM"]),
                **options,
            )
        finally:
            logging.disable(logging.NOTSET)
        return target.read_bytes()
