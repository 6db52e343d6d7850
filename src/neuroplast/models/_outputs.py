"""What a model returns: logits, or a tuple whose first item is the logits."""

from __future__ import annotations

from typing import Any

from torch import Tensor

__all__ = ["logits_of"]


def logits_of(output: Any) -> Tensor:
    """The logits of a model's output (models may return ``(logits, extras)``)."""
    return output[0] if isinstance(output, tuple | list) else output
