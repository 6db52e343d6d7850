"""Bidirectional LSTM classifier with masked additive attention pooling.

The LSTM runs on packed sequences, so padding never enters the recurrence, and attention
gives padded steps weight 0: the logits for a sequence do not depend on the padding after it.
"""

from __future__ import annotations

from typing import ClassVar, Literal, overload

from pydantic import Field
from torch import Tensor, nn

from neuroplast.models._attention_pool import AttentionPool
from neuroplast.models._config import TextArchConfig
from neuroplast.models._masking import PADDING_ID, nonempty, padding_mask
from neuroplast.models._recurrent import run_packed
from neuroplast.models._registry import register_model

__all__ = ["LSTMClassifier", "LSTMConfig"]


class LSTMConfig(TextArchConfig):
    """Configuration of the ``"lstm"`` architecture."""

    hidden_dim: int = Field(default=128, ge=1, description="LSTM state width per direction.")
    num_layers: int = Field(default=1, ge=1, description="Stacked LSTM layers.")
    dropout: float = Field(
        default=0.3, ge=0.0, lt=1.0, description="Dropout on embeddings, between layers, on head."
    )
    bidirectional: bool = Field(default=True, description="Read the sequence in both directions.")


@register_model(
    "lstm",
    modality="text",
    config=LSTMConfig,
    description="(Bi)LSTM over packed sequences with masked additive attention pooling.",
)
class LSTMClassifier(nn.Module):
    """``forward(input_ids[B, T]) -> logits[B, num_classes]``; padding id is 0."""

    modality: ClassVar[str] = "text"

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim, PADDING_ID)
        self.embed_dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.embedding_dim,
            config.hidden_dim,
            num_layers=config.num_layers,
            batch_first=True,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        out_dim = config.hidden_dim * (2 if config.bidirectional else 1)
        self.attention = AttentionPool(out_dim)
        self.head_dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(out_dim, config.num_classes)

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
        mask = nonempty(padding_mask(input_ids))
        x = self.embed_dropout(self.embedding(input_ids))
        states = run_packed(self.lstm, x, mask.sum(dim=1))
        pooled, weights = self.attention(states, mask)
        logits: Tensor = self.classifier(self.head_dropout(pooled))
        if return_attention:
            return logits, [weights]
        return logits
