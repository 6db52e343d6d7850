"""Pretrained encoders: sentence vectors, their cache in the registry, vector indexes.

Importing this package loads neither torch nor transformers nor faiss; each name is
imported from its module on first use.
"""

from __future__ import annotations

from neuroplast._lazy import lazy_exports

_MODULES = {
    "neuroplast.models.minilm_weights": (
        "encoder_id",
        "load_bert",
        "load_tokenizer",
        "mean_pool",
        "minilm_path",
        "weights_sha256",
    ),
    "neuroplast.encoders.sentence": ("SentenceEncoder", "get_encoder", "list_encoders"),
    "neuroplast.encoders.cache": ("CacheStats", "EmbeddingCache", "normalise_text", "text_key"),
    "neuroplast.encoders.index": ("SearchHit", "VectorIndex", "load_index", "save_index"),
    "neuroplast.encoders.service": ("BuiltIndex", "EmbedCall", "Embeddings"),
    "neuroplast.encoders.corpus": ("Corpus", "load_corpus"),
}
_HOMES = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "BuiltIndex",
    "CacheStats",
    "Corpus",
    "EmbedCall",
    "EmbeddingCache",
    "Embeddings",
    "SearchHit",
    "SentenceEncoder",
    "VectorIndex",
    "encoder_id",
    "get_encoder",
    "list_encoders",
    "load_bert",
    "load_corpus",
    "load_index",
    "load_tokenizer",
    "mean_pool",
    "minilm_path",
    "normalise_text",
    "save_index",
    "text_key",
    "weights_sha256",
]

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
