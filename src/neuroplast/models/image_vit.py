"""A small Vision Transformer (Dosovitskiy et al., 2021) for 28x28-sized images.

The image is cut into ``patch_size`` x ``patch_size`` patches (a strided convolution embeds
each one), a learned position embedding is added, an optional class token is put first, and
``depth`` pre-norm blocks (``x + attn(norm(x))``, ``x + mlp(norm(x))``) follow. The class
token (``pooling="cls"``) or the mean of the patch tokens (``"mean"``) feeds the linear head.

``forward(x, return_attention=True)`` also returns each block's attention ``[B, heads, T, T]``
(T = patches + class token), which ``neuroplast explain --method rollout`` rolls out
(Abnar & Zuidema, 2020) into a map over the patches.
"""

from __future__ import annotations

from typing import ClassVar, Literal, overload

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import Tensor, nn

from neuroplast.models._image_config import ImageArchConfig
from neuroplast.models._images import check_images
from neuroplast.models._registry import register_model

__all__ = ["ImageViTClassifier", "ImageViTConfig", "PatchEmbedding", "ViTBlock"]


class ImageViTConfig(ImageArchConfig):
    """Configuration of the ``"image_vit"`` architecture."""

    patch_size: int = Field(default=4, ge=1, description="Side of a square patch, in pixels.")
    width: int = Field(default=96, ge=1, description="Token width (embedding dimension).")
    depth: int = Field(default=4, ge=1, description="Number of transformer blocks.")
    num_heads: int = Field(default=4, ge=1, description="Attention heads; must divide width.")
    mlp_ratio: float = Field(default=2.0, gt=0.0, description="MLP width as a multiple of width.")
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0, description="Dropout probability.")
    pooling: Literal["cls", "mean"] = Field(
        default="cls", description="'cls': a learned class token; 'mean': mean of the patches."
    )

    @model_validator(mode="after")
    def _shapes_fit(self) -> ImageViTConfig:
        if self.image_size % self.patch_size:
            divisors = [d for d in range(1, self.image_size + 1) if self.image_size % d == 0]
            raise ValueError(
                f"patch_size ({self.patch_size}) must divide image_size ({self.image_size}); "
                f"use one of {divisors}"
            )
        if self.width % self.num_heads:
            valid = [h for h in range(1, 17) if self.width % h == 0]
            raise ValueError(
                f"width ({self.width}) must be divisible by num_heads ({self.num_heads}); "
                f"set num_heads to one of {valid} or width to a multiple of {self.num_heads}"
            )
        return self

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2


class PatchEmbedding(nn.Module):
    """``[B, C, H, W] -> [B, patches, width]``, patches in row-major order."""

    def __init__(self, in_channels: int, patch_size: int, width: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, width, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        tokens: Tensor = self.proj(x).flatten(2).transpose(1, 2)
        return tokens


class _SelfAttention(nn.Module):
    """Multi-head self-attention with one fused q/k/v projection (exports to ONNX with a
    dynamic batch size)."""

    def __init__(self, width: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.dropout = dropout

    def forward(self, x: Tensor, need_weights: bool) -> tuple[Tensor, Tensor | None]:
        batch, tokens, width = x.shape
        q, k, v = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        if need_weights:
            weights = torch.softmax(q @ k.transpose(-2, -1) * q.size(-1) ** -0.5, dim=-1)
            attended = F.dropout(weights, p) @ v
        else:
            weights = None
            attended = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return self.out(attended.transpose(1, 2).reshape(batch, tokens, width)), weights


class ViTBlock(nn.Module):
    """Pre-norm block: ``x + attn(norm(x))`` then ``x + mlp(norm(x))``."""

    def __init__(self, width: int, num_heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(width)
        self.attn = _SelfAttention(width, num_heads, dropout)
        self.mlp_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, width),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        attended, weights = self.attn(self.attn_norm(x), need_weights)
        x = x + attended
        return x + self.mlp(self.mlp_norm(x)), weights


@register_model(
    "image_vit",
    modality="image",
    config=ImageViTConfig,
    description="Vision Transformer: patch embedding, class token or mean pooling, pre-norm "
    "blocks.",
)
class ImageViTClassifier(nn.Module):
    """``forward(x[B, C, H, W]) -> logits[B, num_classes]``."""

    modality: ClassVar[str] = "image"

    def __init__(self, config: ImageViTConfig) -> None:
        super().__init__()
        self.config = config
        width = config.width
        self.patch_embed = PatchEmbedding(config.in_channels, config.patch_size, width)
        self.position = nn.Parameter(torch.zeros(1, config.num_patches, width))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width)) if config.pooling == "cls" else None
        self.embed_dropout = nn.Dropout(config.dropout)
        hidden = max(1, round(width * config.mlp_ratio))
        self.blocks = nn.ModuleList(
            ViTBlock(width, config.num_heads, hidden, config.dropout) for _ in range(config.depth)
        )
        self.norm = nn.LayerNorm(width)
        self.classifier = nn.Linear(width, config.num_classes)
        nn.init.trunc_normal_(self.position, std=0.02)
        if self.cls_token is not None:
            nn.init.trunc_normal_(self.cls_token, std=0.02)

    @property
    def has_class_token(self) -> bool:
        return self.cls_token is not None

    def tokens(self, x: Tensor) -> Tensor:
        """The input tokens ``[B, T, width]``: position-embedded patches after the class token."""
        check_images(x, self.config.in_channels, self.config.image_size)
        tokens = self.patch_embed(x) + self.position
        if self.cls_token is not None:
            tokens = torch.cat([self.cls_token.expand(x.size(0), -1, -1), tokens], dim=1)
        return tokens

    @overload
    def forward(self, x: Tensor, return_attention: Literal[False] = ...) -> Tensor: ...

    @overload
    def forward(
        self, x: Tensor, return_attention: Literal[True]
    ) -> tuple[Tensor, list[Tensor]]: ...

    def forward(
        self, x: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Logits, and with ``return_attention`` one ``[B, heads, T, T]`` tensor per block."""
        h = self.embed_dropout(self.tokens(x))
        attentions: list[Tensor] = []
        for block in self.blocks:
            h, weights = block(h, need_weights=return_attention)
            if weights is not None:
                attentions.append(weights)
        h = self.norm(h)
        pooled = h[:, 0] if self.cls_token is not None else h.mean(dim=1)
        logits: Tensor = self.classifier(pooled)
        if return_attention:
            return logits, attentions
        return logits
