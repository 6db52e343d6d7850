"""Running an LSTM over right-padded sequences so that padding never reaches it.

Two paths give the same outputs: :func:`run_packed` packs the batch (training and eager
inference), :func:`run_masked` reverses each row within its own length for the backward
direction and runs plain ``aten::lstm`` calls, which ONNX export handles (packed sequences
it does not). The masked path is taken automatically while a model is being exported.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from neuroplast.models._export import exporting

__all__ = ["run_masked", "run_packed"]


def run_packed(lstm: nn.LSTM, x: Tensor, lengths: Tensor) -> Tensor:
    """Outputs ``[B, T, H]`` of a batch-first ``lstm`` over ``x[B, T, D]``.

    Only the first ``lengths[b]`` steps of row ``b`` are fed (each length must be >= 1);
    outputs past a row's length are zero. ``T`` is kept, so masks of ``x`` still apply.
    While exporting, this runs :func:`run_masked` instead (same outputs).
    """
    if exporting():
        return run_masked(lstm, x, lengths)
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, _ = lstm(packed)
    padded, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    return padded


def _one_direction(lstm: nn.LSTM, layer: int, suffix: str, x: Tensor) -> Tensor:
    weights = [
        getattr(lstm, f"{kind}_l{layer}{suffix}")
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        if hasattr(lstm, f"{kind}_l{layer}{suffix}")
    ]
    state = x.new_zeros((1, x.size(0), lstm.hidden_size))
    out, _, _ = torch.lstm(
        x, (state, state), weights, lstm.bias, 1, 0.0, False, False, lstm.batch_first
    )
    return out


def run_masked(lstm: nn.LSTM, x: Tensor, lengths: Tensor) -> Tensor:
    """:func:`run_packed` without packing: same outputs, exportable to ONNX (eval mode only).

    The forward direction is causal, so padding after a row's end cannot reach its real
    steps; the backward direction reads each row reversed within its own length.
    """
    steps = torch.arange(x.size(1), device=x.device).unsqueeze(0)
    last = lengths.to(steps.dtype).unsqueeze(1) - 1
    inside = steps <= last
    reverse = torch.where(inside, last - steps, steps)
    out = x
    for layer in range(lstm.num_layers):
        forward = _one_direction(lstm, layer, "", out)
        if lstm.bidirectional:
            index = reverse.unsqueeze(-1).expand(-1, -1, out.size(-1))
            backward = _one_direction(lstm, layer, "_reverse", out.gather(1, index))
            back_index = reverse.unsqueeze(-1).expand(-1, -1, backward.size(-1))
            forward = torch.cat([forward, backward.gather(1, back_index)], dim=-1)
        out = forward
    return out * inside.unsqueeze(-1).to(out.dtype)
