"""Attention maps from the models' own ``return_attention=True`` outputs, and attention rollout.

Transformers return one ``[B, heads, T, T]`` map per layer; the BiLSTM and the CNN-LSTM
hybrid return the weights ``[B, T]`` of their attention pooling (one layer, one head).
A token's attention score is what the pooled representation draws from it: the pooling
weights for the recurrent models, and for transformers the rollout of Abnar & Zuidema
(2020) — each layer's head-averaged map mixed half-and-half with the identity for the
residual path, multiplied through the layers — read at the positions the model pools.
"""

from __future__ import annotations

import inspect

import torch
from torch import Tensor, nn

from neuroplast.errors import ConfigError

__all__ = [
    "attention_maps",
    "attention_rollout",
    "attention_scores",
    "has_attention",
    "require_attention",
]


def has_attention(model: nn.Module) -> bool:
    """Whether ``model.forward`` accepts ``return_attention``."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False
    return "return_attention" in params


def require_attention(model: nn.Module, architecture: str) -> None:
    if not has_attention(model):
        raise ConfigError(
            f"a {architecture} model has no attention layers, so there are no attention "
            "weights to show; use --method ig, saliency, input_x_gradient or occlusion "
            "(attention exists in the transformer, lstm and hybrid architectures)"
        )


@torch.no_grad()
def attention_maps(model: nn.Module, input_ids: Tensor, *, architecture: str = "") -> list[Tensor]:
    """The model's own attention: per layer ``[B, heads, T, T]`` or ``[B, T]`` (pooling)."""
    require_attention(model, architecture or type(model).__name__)
    model.eval()
    _, maps = model(input_ids, return_attention=True)
    return [m.detach().float() for m in maps]


def attention_rollout(maps: list[Tensor], real: Tensor) -> Tensor:
    """Rollout ``[B, T, T]`` of per-layer maps ``[B, heads, T, T]`` (padded keys get 0)."""
    batch, _, seq, _ = maps[0].shape
    eye = torch.eye(seq, device=maps[0].device).expand(batch, seq, seq)
    keys = real.unsqueeze(1).float()
    rollout = eye * keys
    for layer in maps:
        mixed = 0.5 * layer.mean(dim=1) + 0.5 * eye
        mixed = mixed * keys
        mixed = mixed / mixed.sum(dim=-1, keepdim=True).clamp(min=1e-12)
        rollout = mixed @ rollout
    return rollout


def attention_scores(
    model: nn.Module, input_ids: Tensor, *, architecture: str = "", pooling: str = "mean"
) -> Tensor:
    """One score per token ``[B, T]`` (0 on padding) from the model's attention."""
    maps = attention_maps(model, input_ids, architecture=architecture)
    real = input_ids != 0
    if maps[0].dim() == 2:  # attention pooling weights of the recurrent models
        return maps[-1] * real
    rollout = attention_rollout(maps, real)
    if pooling == "cls":
        return rollout[:, 0] * real
    queries = real.unsqueeze(-1).float()
    pooled = (rollout * queries).sum(dim=1) / queries.sum(dim=1).clamp(min=1.0)
    return pooled * real
