"""CNN-LSTM hybrid: parallel 'same' convolutions, a packed BiLSTM, masked attention pooling.

The convolutions keep the time axis, so the BiLSTM reads one multi-width n-gram feature
vector per token and the padding mask of the input applies unchanged to its outputs. The
convolutions compute what ``padding="same"`` gives (``(k - 1) // 2`` zeros on the left, the
rest on the right) from one input padded for the widest filter, each output sliced to its own
alignment; this avoids the padded copy of the input that ``padding="same"`` makes for every
even-width filter.
"""

from __future__ import annotations

from typing import ClassVar, Literal, overload

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from neuroplast.models._attention_pool import AttentionPool
from neuroplast.models._config import FilterSizes, TextArchConfig
from neuroplast.models._masking import PADDING_ID, nonempty, padding_mask
from neuroplast.models._recurrent import run_packed
from neuroplast.models._registry import register_model

__all__ = ["HybridClassifier", "HybridConfig"]


class HybridConfig(TextArchConfig):
    """Configuration of the ``"hybrid"`` architecture."""

    num_filters: int = Field(default=64, ge=1, description="Filters per filter width.")
    filter_sizes: FilterSizes = Field(
        default=(3, 4, 5), min_length=1, description="Widths (in tokens) of the convolutions."
    )
    hidden_dim: int = Field(default=128, ge=1, description="BiLSTM state width per direction.")
    num_layers: int = Field(default=1, ge=1, description="Stacked BiLSTM layers.")
    dropout: float = Field(
        default=0.3,
        ge=0.0,
        lt=1.0,
        description="Dropout on conv features, between layers, on head.",
    )


@register_model(
    "hybrid",
    modality="text",
    config=HybridConfig,
    description="Parallel Conv1d n-gram features fed to a packed BiLSTM with attention pooling.",
)
class HybridClassifier(nn.Module):
    """``forward(input_ids[B, T]) -> logits[B, num_classes]``; padding id is 0."""

    modality: ClassVar[str] = "text"

    def __init__(self, config: HybridConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, PADDING_ID)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embedding_dim, config.num_filters, size)
            for size in config.filter_sizes
        )
        widest = max(config.filter_sizes)
        self.pad_left = (widest - 1) // 2
        self.pad_right = widest - 1 - self.pad_left
        # Where each convolution's 'same'-aligned output starts in its output on the padded input.
        self.offsets = [self.pad_left - (size - 1) // 2 for size in config.filter_sizes]
        self.conv_dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.num_filters * len(config.filter_sizes),
            config.hidden_dim,
            num_layers=config.num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.attention = AttentionPool(2 * config.hidden_dim)
        self.head_dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(2 * config.hidden_dim, config.num_classes)

    def ngram_features(self, x: Tensor) -> Tensor:
        """ReLU outputs ``[B, T, num_filters * len(filter_sizes)]`` of the convolutions on
        ``x[B, embedding_dim, T]``, each aligned as with ``padding="same"``."""
        seq_len = x.size(-1)
        x = F.pad(x, (self.pad_left, self.pad_right))
        outputs = [
            conv(x)[..., start : start + seq_len]
            for conv, start in zip(self.convs, self.offsets, strict=True)
        ]
        return torch.relu(torch.cat(outputs, dim=1)).transpose(1, 2)

    @overload
    def forward(self, input_ids: Tensor, return_attention: Literal[False] = ...) -> Tensor: ...

    @overload
    def forward(
        self, input_ids: Tensor, return_attention: Literal[True]
    ) -> tuple[Tensor, list[Tensor]]: ...

    def forward(
        self, input_ids: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Logits, and with ``return_attention`` a one-item list of weights ``[B, T]``."""
        real = padding_mask(input_ids)
        mask = nonempty(real)
        embedded = self.embedding(input_ids) * real.unsqueeze(-1)
        features = self.conv_dropout(self.ngram_features(embedded.transpose(1, 2)))
        states = run_packed(self.lstm, features, mask.sum(dim=1))
        pooled, weights = self.attention(states, mask)
        logits: Tensor = self.classifier(self.head_dropout(pooled))
        if return_attention:
            return logits, [weights]
        return logits
