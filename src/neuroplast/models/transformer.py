"""Transformer encoder classifier: pre-norm blocks on ``nn.MultiheadAttention``.

Token embeddings are scaled by ``sqrt(embedding_dim)`` and summed with a fixed sinusoidal
positional encoding; padded keys are masked in every attention layer and the sequence is
pooled by a masked mean or by its first position (``pooling="cls"``, for tokenizers that put a
classification token first).
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal, overload

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from neuroplast.errors import ConfigError
from neuroplast.models._config import TextArchConfig
from neuroplast.models._export import exporting
from neuroplast.models._masking import PADDING_ID, masked_mean, nonempty, padding_mask
from neuroplast.models._registry import register_model

__all__ = ["EncoderBlock", "TransformerClassifier", "TransformerConfig", "sinusoidal_encoding"]


class TransformerConfig(TextArchConfig):
    """Configuration of the ``"transformer"`` architecture."""

    hidden_dim: int = Field(default=256, ge=1, description="Width of the feed-forward layers.")
    num_layers: int = Field(default=2, ge=1, description="Number of encoder blocks.")
    num_heads: int = Field(
        default=4, ge=1, description="Attention heads; must divide embedding_dim."
    )
    max_seq_length: int = Field(
        default=512, ge=1, description="Longest input accepted (positions encoded)."
    )
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0, description="Dropout probability.")
    pooling: Literal["mean", "cls"] = Field(
        default="mean",
        description="'mean' over real tokens, or 'cls' to take the first position.",
    )
    gradient_checkpointing: bool = Field(
        default=False,
        description="Training: recompute each block's activations in the backward pass "
        "instead of keeping them (less memory, one more forward per block).",
    )

    @model_validator(mode="after")
    def _heads_divide_width(self) -> TransformerConfig:
        if self.embedding_dim % self.num_heads:
            valid = [h for h in range(1, 17) if self.embedding_dim % h == 0]
            suggestion = self.num_heads * max(1, round(self.embedding_dim / self.num_heads))
            raise ValueError(
                f"embedding_dim ({self.embedding_dim}) must be divisible by num_heads "
                f"({self.num_heads}); set embedding_dim to a multiple of {self.num_heads} "
                f"(e.g. {suggestion}) or num_heads to one of {valid}"
            )
        return self


def sinusoidal_encoding(length: int, dim: int) -> Tensor:
    """The fixed positional encoding of "Attention is all you need", shape ``[length, dim]``."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table


class EncoderBlock(nn.Module):
    """Pre-norm block: ``x + attn(norm(x))`` then ``x + ffn(norm(x))``."""

    def __init__(self, dim: int, num_heads: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.attn_dropout = nn.Dropout(dropout)
        self.ff_norm = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, ff_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(ff_dim, dim),
        )
        self.ff_dropout = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, key_padding_mask: Tensor, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """``key_padding_mask[B, T]`` is True at padded keys; weights are ``[B, heads, T, T]``."""
        h = self.attn_norm(x)
        if exporting() and not need_weights:
            x = x + self.attn_dropout(_exportable_attention(self.attn, h, key_padding_mask))
            return x + self.ff_dropout(self.ff(self.ff_norm(x))), None
        attended, weights = self.attn(
            h,
            h,
            h,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            average_attn_weights=False,
        )
        x = x + self.attn_dropout(attended)
        x = x + self.ff_dropout(self.ff(self.ff_norm(x)))
        return x, weights


def _exportable_attention(attn: nn.MultiheadAttention, x: Tensor, ignore: Tensor) -> Tensor:
    """What ``attn(x, x, x, key_padding_mask=ignore)`` returns (eval mode), written so that
    ONNX export keeps the batch and sequence sizes dynamic (``nn.MultiheadAttention`` bakes them).
    """
    heads, dim = attn.num_heads, attn.embed_dim
    batch = x.size(0)
    q, k, v = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    q, k, v = (z.reshape(batch, -1, heads, dim // heads).transpose(1, 2) for z in (q, k, v))
    bias = torch.zeros(ignore.shape, dtype=x.dtype).masked_fill(ignore, float("-inf"))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias[:, None, None, :])
    result: Tensor = attn.out_proj(out.transpose(1, 2).reshape(batch, -1, dim))
    return result


@register_model(
    "transformer",
    modality="text",
    config=TransformerConfig,
    description="Pre-norm Transformer encoder with sinusoidal positions and masked pooling.",
)
class TransformerClassifier(nn.Module):
    """``forward(input_ids[B, T]) -> logits[B, num_classes]``; padding id is 0."""

    modality: ClassVar[str] = "text"
    positional_encoding: Tensor

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.embedding_dim
        self.embedding = nn.Embedding(config.vocab_size, dim, padding_idx=PADDING_ID)
        self.embed_scale = math.sqrt(dim)
        self.register_buffer(
            "positional_encoding",
            sinusoidal_encoding(config.max_seq_length, dim),
            persistent=False,
        )
        self.embed_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            EncoderBlock(dim, config.num_heads, config.hidden_dim, config.dropout)
            for _ in range(config.num_layers)
        )
        self.final_norm = nn.LayerNorm(dim)
        self.head_dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(dim, config.num_classes)
        # Scaled by sqrt(dim) in forward, so unit-variance embeddings after scaling.
        nn.init.normal_(self.embedding.weight, std=dim**-0.5)
        with torch.no_grad():
            self.embedding.weight[PADDING_ID].zero_()

    @overload
    def forward(self, input_ids: Tensor, return_attention: Literal[False] = ...) -> Tensor: ...

    @overload
    def forward(
        self, input_ids: Tensor, return_attention: Literal[True]
    ) -> tuple[Tensor, list[Tensor]]: ...

    def forward(
        self, input_ids: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Logits, and with ``return_attention`` one ``[B, heads, T, T]`` tensor per layer."""
        seq_len = input_ids.size(-1)
        if seq_len > self.config.max_seq_length:
            raise ConfigError(
                f"input has {seq_len} tokens but this transformer accepts at most "
                f"max_seq_length={self.config.max_seq_length}; truncate the inputs (the "
                "tokenizer's max length) or create the model with a larger max_seq_length"
            )
        mask = nonempty(padding_mask(input_ids))
        x = self.embedding(input_ids) * self.embed_scale + self.positional_encoding[:seq_len]
        x = self.embed_dropout(x)
        ignore = ~mask
        attentions: list[Tensor] = []
        recompute = self.config.gradient_checkpointing and self.training and torch.is_grad_enabled()
        for block in self.blocks:
            if recompute:  # the same dropout masks are drawn again (the RNG state is kept)
                x, weights = checkpoint(block, x, ignore, return_attention, use_reentrant=False)
            else:
                x, weights = block(x, ignore, need_weights=return_attention)
            if weights is not None:
                attentions.append(weights)
        x = self.final_norm(x)
        pooled = x[:, 0] if self.config.pooling == "cls" else masked_mean(x, mask)
        logits: Tensor = self.classifier(self.head_dropout(pooled))
        if return_attention:
            return logits, attentions
        return logits
