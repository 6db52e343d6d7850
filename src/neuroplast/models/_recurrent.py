"""Running an LSTM over right-padded sequences so that padding never reaches it."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ["run_packed"]


def run_packed(lstm: nn.LSTM, x: Tensor, lengths: Tensor) -> Tensor:
    """Outputs ``[B, T, H]`` of a batch-first ``lstm`` over ``x[B, T, D]``.

    Only the first ``lengths[b]`` steps of row ``b`` are fed (each length must be >= 1);
    outputs past a row's length are zero. ``T`` is kept, so masks of ``x`` still apply.
    """
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, _ = lstm(packed)
    padded, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    return padded
