"""Kim-style text CNN: parallel 1-D convolutions of several widths, masked max over time.

Each convolution output at position ``t`` is the window that starts at token ``t``; windows
that start on padding are excluded from the max, and the sequence is padded internally by
``max(filter_sizes) - 1`` zeros so that inputs shorter than the widest filter still work and
a window running past the end always sees zeros, however much padding follows.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from neuroplast.models._config import FilterSizes, TextArchConfig
from neuroplast.models._export import exporting
from neuroplast.models._masking import PADDING_ID, masked_max, nonempty, padding_mask
from neuroplast.models._registry import register_model

__all__ = ["TextCNNClassifier", "TextCNNConfig"]


class TextCNNConfig(TextArchConfig):
    """Configuration of the ``"cnn"`` (text) architecture."""

    num_filters: int = Field(default=100, ge=1, description="Filters per filter width.")
    filter_sizes: FilterSizes = Field(
        default=(3, 4, 5), min_length=1, description="Widths (in tokens) of the convolutions."
    )
    dropout: float = Field(default=0.5, ge=0.0, lt=1.0, description="Dropout before the head.")


@register_model(
    "cnn",
    modality="text",
    config=TextCNNConfig,
    description="Kim CNN: parallel Conv1d of several widths with masked max-over-time pooling.",
)
class TextCNNClassifier(nn.Module):
    """``forward(input_ids[B, T]) -> logits[B, num_classes]``; padding id is 0."""

    modality: ClassVar[str] = "text"

    def __init__(self, config: TextCNNConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, PADDING_ID)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embedding_dim, config.num_filters, size)
            for size in config.filter_sizes
        )
        self.max_width = max(config.filter_sizes)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(
            config.num_filters * len(config.filter_sizes), config.num_classes
        )

    def forward(self, input_ids: Tensor) -> Tensor:
        if exporting():
            return self._forward_as_matmuls(input_ids)
        real = padding_mask(input_ids)
        mask = nonempty(real)
        seq_len = input_ids.size(1)
        x = (self.embedding(input_ids) * real.unsqueeze(-1)).transpose(1, 2)
        x = F.pad(x, (0, self.max_width - 1))
        features = [masked_max(torch.relu(conv(x))[..., :seq_len], mask) for conv in self.convs]
        logits: Tensor = self.classifier(self.dropout(torch.cat(features, dim=1)))
        return logits

    def _forward_as_matmuls(self, input_ids: Tensor) -> Tensor:
        """The same logits with each convolution written as windows @ weights (exported to
        ONNX this way: ONNX Runtime's MatMul, and its int8 MatMul, beat its Conv here)."""
        real = padding_mask(input_ids)
        mask = nonempty(real)
        seq_len = input_ids.size(1)
        x = self.embedding(input_ids) * real.unsqueeze(-1)
        x = F.pad(x, (0, 0, 0, self.max_width - 1))
        features = []
        convs: list[nn.Conv1d] = list(self.convs)  # type: ignore[arg-type]
        for conv in convs:
            width = conv.kernel_size[0]
            windows = torch.cat([x[:, i : i + seq_len] for i in range(width)], dim=-1)
            weight = conv.weight.permute(0, 2, 1).reshape(conv.out_channels, -1)
            out = torch.matmul(windows, weight.t())
            if conv.bias is not None:
                out = out + conv.bias
            out = torch.relu(out)
            features.append(out.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1))
        logits: Tensor = self.classifier(self.dropout(torch.cat(features, dim=1)))
        return logits
