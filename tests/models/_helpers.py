"""Small configs and inputs for every registered architecture, shared by the model tests."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from neuroplast.models import get_spec

VOCAB_SIZE = 100
NUM_CLASSES = 3


def small_config(name: str, **overrides: Any) -> dict[str, Any]:
    """The default config of ``name`` with a small vocabulary, plus ``overrides``."""
    config: dict[str, Any] = {"num_classes": NUM_CLASSES}
    if get_spec(name).modality == "text":
        config["vocab_size"] = VOCAB_SIZE
    config.update(overrides)
    return config


def example_batch(name: str, batch_size: int = 4, seed: int = 0) -> Tensor:
    """A batch the architecture accepts; text rows have different lengths (right-padded)."""
    generator = torch.Generator().manual_seed(seed)
    if get_spec(name).modality == "image":
        return torch.randn(batch_size, 1, 28, 28, generator=generator)
    ids = torch.randint(1, VOCAB_SIZE, (batch_size, 12), generator=generator)
    for row in range(batch_size):
        ids[row, 12 - 2 * row :] = 0
    return ids
