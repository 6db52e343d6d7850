"""Post-training int8 quantization with ``torch.ao``.

``dynamic_int8`` quantizes the weights of Linear and LSTM layers to int8 and quantizes
activations on the fly (every architecture). ``static_int8`` calibrates activation ranges on
real inputs and converts the convolution / linear paths of the image models (FX graph mode,
fbgemm); text models keep their dynamic quantization.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch
from torch import nn

from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.data.prepare import PreparedData

__all__ = ["calibration_batches", "dynamic_int8", "static_int8"]

logger = logging.getLogger(__name__)

# torch.ao still works in torch 2.13 but warns on every call (deprecated for torchao).
_NOISE = (
    ".*torch.ao.quantization is deprecated.*",
    ".*quantize_per_tensor.*",
    ".*_empty_affine_quantized.*",
    ".*quant_min and quant_max.*",
)


def dynamic_int8(model: nn.Module) -> nn.Module:
    """An int8 copy of ``model`` (Linear and LSTM layers); ``model`` is not changed."""
    export_copy = getattr(model, "export_copy", None)  # e.g. LoRA adapters folded in
    copied = (export_copy() if callable(export_copy) else copy.deepcopy(model)).cpu().eval()
    with warnings.catch_warnings():
        for pattern in _NOISE:
            warnings.filterwarnings("ignore", message=pattern)
        from torch.ao.quantization import quantize_dynamic

        quantized: nn.Module = quantize_dynamic(copied, {nn.Linear, nn.LSTM}, dtype=torch.qint8)
    return quantized


def static_int8(
    model: nn.Module, calibration: Iterable[torch.Tensor], *, modality: str
) -> nn.Module:
    """A statically quantized int8 copy of an image model, calibrated on ``calibration``
    batches of normalised float images ``[B, C, H, W]``."""
    if modality != "image":
        raise ConfigError(
            "static int8 applies to the CNN / MLP image paths; use --quantize dynamic for "
            "text models (their embeddings and recurrences are not statically quantizable)"
        )
    batches = list(calibration)
    if not batches:
        raise ConfigError("static quantization needs at least one calibration batch")
    with warnings.catch_warnings():
        for pattern in _NOISE:
            warnings.filterwarnings("ignore", message=pattern)
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

        copied = copy.deepcopy(model).cpu().eval()
        mapping = get_default_qconfig_mapping("fbgemm")
        try:
            prepared = prepare_fx(copied, mapping, example_inputs=(batches[0],))
        except Exception as e:  # FX tracing raises several types
            raise ConfigError(
                f"cannot trace {type(model).__name__} for static quantization: {e}"
            ) from e
        with torch.inference_mode():
            for batch in batches:
                prepared(batch)
        converted: nn.Module = convert_fx(prepared)
    return converted


def calibration_batches(
    data: PreparedData, *, batches: int = 16, batch_size: int = 64
) -> list[torch.Tensor]:
    """Normalised training images for static quantization's calibration (first batches of
    the training split in a fixed order)."""
    loader = data.loader("train", batch_size=batch_size, shuffle=False)
    out = []
    for index, batch in enumerate(loader):
        if index == batches:
            break
        out.append(batch[0])
    return out
