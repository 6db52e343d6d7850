"""Pretrained encoders: sentence vectors, their cache in the registry, vector indexes.

Importing this package loads neither torch nor transformers nor faiss; each name is
imported from its module on first use.
"""

from __future__ import annotations

from neuroplast._lazy import lazy_exports

__all__ = [
    "encoder_id",
    "load_bert",
    "load_tokenizer",
    "mean_pool",
    "minilm_path",
    "weights_sha256",
]

_HOMES = {name: "neuroplast.encoders.minilm" for name in __all__}

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
