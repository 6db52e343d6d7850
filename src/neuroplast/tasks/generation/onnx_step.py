"""The GPT's decoder step as ONNX: new token ids and the past keys/values in, logits and the
grown keys/values out, so that a runtime without torch can generate with a KV cache.

Inputs: ``input_ids [B, T]`` (int64), ``past_keys`` / ``past_values``
``[layers, B, heads, P, head_dim]`` (P may be 0). Outputs: ``logits [B, T, V]``,
``present_keys`` / ``present_values`` ``[layers, B, heads, P + T, head_dim]``. Positions
continue at P; P + T must not exceed the model's context. The LSTM is not exported.
"""

from __future__ import annotations

import io
from typing import Any, cast

import torch
from torch import Tensor, nn

from neuroplast.errors import ConfigError
from neuroplast.tasks.generation.models import GPT

__all__ = ["DecoderStep", "empty_past", "export_decoder_step"]

OPSET = 17


class DecoderStep(nn.Module):
    """The step of a :class:`GPT` with the cache stacked into two tensors."""

    def __init__(self, gpt: GPT) -> None:
        super().__init__()
        self.gpt = gpt

    def forward(
        self, input_ids: Tensor, past_keys: Tensor, past_values: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        cache = [(past_keys[i], past_values[i]) for i in range(past_keys.shape[0])]
        logits, present = self.gpt.step(input_ids, cache)
        keys = torch.stack([k for k, _ in present])
        values = torch.stack([v for _, v in present])
        return logits, keys, values


def empty_past(gpt: GPT, batch: int = 1) -> Tensor:
    cfg = gpt.config
    return torch.zeros(cfg.n_layers, batch, cfg.n_heads, 0, cfg.d_model // cfg.n_heads)


def export_decoder_step(gpt: nn.Module) -> bytes:
    """The ONNX model (bytes) of ``gpt``'s decoder step, exported on the CPU."""
    if not isinstance(gpt, GPT):
        raise ConfigError("only the gpt architecture has an ONNX decoder step")
    step = DecoderStep(gpt).eval()
    cfg = gpt.config
    past = torch.zeros(cfg.n_layers, 1, cfg.n_heads, 3, cfg.d_model // cfg.n_heads)
    axes: dict[str, Any] = {
        "input_ids": {0: "batch", 1: "new"},
        "past_keys": {1: "batch", 3: "past"},
        "past_values": {1: "batch", 3: "past"},
        "logits": {0: "batch", 1: "new"},
        "present_keys": {1: "batch", 3: "total"},
        "present_values": {1: "batch", 3: "total"},
    }
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(
            step,
            (torch.zeros(1, 2, dtype=torch.long), past, past.clone()),
            cast(Any, buffer),
            dynamo=False,
            opset_version=OPSET,
            input_names=["input_ids", "past_keys", "past_values"],
            output_names=["logits", "present_keys", "present_values"],
            dynamic_axes=axes,
        )
    return buffer.getvalue()
