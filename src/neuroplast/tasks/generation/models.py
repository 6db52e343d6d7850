"""Language models: an LSTM and a small GPT-style decoder, both with tied input/output weights.

Both take token ids ``[B, T]`` and return next-token logits ``[B, T, V]``; ``step`` also takes
and returns a cache so that generation feeds one new token at a time: the LSTM's state, or
the GPT's keys and values of every layer (a KV cache). The output layer reuses the token
embedding matrix (weight tying), so the weights hold it once.

The architectures live in this task's own table (:data:`LM_ARCHITECTURES`), not in
:mod:`neuroplast.models`' classifier registry, whose shared tests feed class labels.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroplast.tasks.generation.config import GPTConfig, LSTMConfig, validate_lm_config

__all__ = [
    "GPT",
    "LM_ARCHITECTURES",
    "GPTConfig",
    "KVCache",
    "LSTMConfig",
    "LSTMLanguageModel",
    "create_lm",
]

#: Per layer: keys and values ``[B, heads, T, head_dim]`` of every token seen so far.
KVCache = list[tuple[Tensor, Tensor]]


def _sinusoids(length: int, dim: int) -> Tensor:
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return table


class _Attention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.heads, self.dropout = cfg.n_heads, cfg.dropout
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(
        self, x: Tensor, past: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        b, t, d = x.shape
        q, k, v = (
            z.view(b, t, self.heads, d // self.heads).transpose(1, 2)
            for z in self.qkv(x).split(d, dim=2)
        )
        mask: Tensor | None = None
        causal = past is None  # no cache: the fused causal kernel
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
            if torch.onnx.is_in_onnx_export() or t > 1:  # one new token may see every key
                # query i (at position P + i) may see keys 0 .. P + i: never a later token
                p = k.shape[2] - t
                mask = torch.arange(k.shape[2])[None, :] <= (torch.arange(t)[:, None] + p)
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            is_causal=causal,
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.out(y.transpose(1, 2).reshape(b, t, d)), (k, v)


class _Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = _Attention(cfg)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model),
            nn.GELU(),
            nn.Linear(4 * cfg.d_model, cfg.d_model),
            nn.Dropout(cfg.dropout),
        )

    def forward(
        self, x: Tensor, past: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        a, present = self.attn(self.ln1(x), past)
        x = x + a
        return x + self.mlp(self.ln2(x)), present


class GPT(nn.Module):
    """Pre-norm decoder-only transformer with causal self-attention and a KV cache."""

    sinusoids: Tensor  # a buffer (not saved) when positions are sinusoidal

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.config, self.context = cfg, cfg.context
        self.tokens = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos: nn.Embedding | None = None
        if cfg.positions == "learned":
            self.pos = nn.Embedding(cfg.context, cfg.d_model)
        else:
            self.register_buffer("sinusoids", _sinusoids(cfg.context, cfg.d_model), False)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layers))
        self.ln = nn.LayerNorm(cfg.d_model)
        self.apply(_init)

    def forward(self, idx: Tensor) -> Tensor:
        return self.step(idx, None)[0]

    def step(self, idx: Tensor, cache: KVCache | None) -> tuple[Tensor, KVCache]:
        """Logits of ``idx`` (positions continue after the cache) and the grown cache."""
        start = 0 if not cache else cache[0][0].shape[2]
        positions = torch.arange(start, start + idx.shape[1], device=idx.device)
        where = self.pos(positions) if self.pos is not None else self.sinusoids[positions]
        x = self.drop(self.tokens(idx) + where)
        present: KVCache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, cache[i] if cache else None)
            present.append(kv)
        return F.linear(self.ln(x), self.tokens.weight), present  # tied output weights


class LSTMLanguageModel(nn.Module):
    """Embedding -> LSTM -> projection back to the embedding size -> tied output layer."""

    context: int | None = None

    def __init__(self, cfg: LSTMConfig) -> None:
        super().__init__()
        self.config = cfg
        self.tokens = nn.Embedding(cfg.vocab_size, cfg.embedding_dim)
        self.lstm = nn.LSTM(
            cfg.embedding_dim,
            cfg.hidden_dim,
            num_layers=cfg.num_layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(cfg.dropout)
        self.proj = nn.Linear(cfg.hidden_dim, cfg.embedding_dim)

    def forward(self, idx: Tensor) -> Tensor:
        return self.step(idx, None)[0]

    def step(self, idx: Tensor, state: Any) -> tuple[Tensor, Any]:
        out, state = self.lstm(self.drop(self.tokens(idx)), state)
        return F.linear(self.proj(self.drop(out)), self.tokens.weight), state


def _init(module: nn.Module) -> None:
    if isinstance(module, nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


LM_ARCHITECTURES: dict[str, type[nn.Module]] = {"gpt": GPT, "lstm-lm": LSTMLanguageModel}


def create_lm(architecture: str, options: dict[str, Any]) -> nn.Module:
    """Build a language model from its architecture name and config keys."""
    return LM_ARCHITECTURES[architecture](validate_lm_config(architecture, options))
