"""What the Engine's ``embed``, ``build_index`` and ``search`` hand their work to: the
loaded encoders of one process, the registry's embedding cache and its vector indexes.

>>> service = Embeddings(registry)                                   # doctest: +SKIP
>>> service.embed(["interest rates and inflation"]).shape            # doctest: +SKIP
(1, 384)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from neuroplast.encoders.cache import CacheStats, EmbeddingCache, check_dtype, text_key
from neuroplast.encoders.index import (
    SearchHit,
    VectorIndex,
    check_index_target,
    load_index,
    save_index,
)
from neuroplast.encoders.sentence import (
    SentenceEncoder,
    encoder_dim,
    encoder_id_of,
    get_encoder,
)
from neuroplast.errors import ConfigError, DataError

if TYPE_CHECKING:
    from neuroplast.registry import Registry, VersionRecord

__all__ = ["BuiltIndex", "EmbedCall", "Embeddings"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuiltIndex:
    """A registered index and what building it took."""

    version: VersionRecord
    vectors: int
    kind: str
    encoder: str
    seconds: float


@dataclass(frozen=True)
class EmbedCall:
    """What one :meth:`Embeddings.embed` did: texts asked for, distinct ones (after
    normalisation), read from the cache, computed, and the time it took."""

    encoder: str
    dtype: str
    texts: int
    distinct: int
    cached: int
    computed: int
    seconds: float


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise DataError("embed takes a list of texts, not one string: wrap it in a list")
    out = list(texts)
    bad = [i for i, t in enumerate(out) if not isinstance(t, str)]
    if bad:
        raise DataError(
            f"texts must be strings; item {bad[0]} is {type(out[bad[0]]).__name__}"
            f"{f' (and {len(bad) - 1} more)' if len(bad) > 1 else ''}"
        )
    return out


class Embeddings:
    """Sentence vectors through the registry's cache, and indexes over them."""

    def __init__(self, registry: Registry, *, max_entries: int | None = None) -> None:
        self.registry = registry
        self.cache = EmbeddingCache(registry, max_entries=max_entries)
        self._encoders: dict[str, SentenceEncoder] = {}
        #: The counts of the newest :meth:`embed` (None before the first).
        self.last_call: EmbedCall | None = None

    def encoder(self, name: str) -> SentenceEncoder:
        """The encoder ``name``, loaded on first use and kept for this process."""
        if name not in self._encoders:
            self._encoders[name] = get_encoder(name)
        return self._encoders[name]

    def embed(
        self,
        texts: Sequence[str],
        encoder: str = "minilm",
        *,
        dtype: str = "float32",
        cache: bool = True,
    ) -> np.ndarray:
        """``[len(texts), dim]`` unit-length vectors of ``dtype``. Texts equal after
        :func:`~neuroplast.encoders.cache.normalise_text` are encoded once; with ``cache``
        the registry's rows are read first and the new vectors kept, so a text's vector is
        the same bits every time (``cache=False`` computes the same way and keeps nothing)."""
        start = time.perf_counter()
        texts = _check_texts(texts)
        kind = check_dtype(dtype)
        encoder_id = encoder_id_of(encoder)
        keys = [text_key(t) for t in texts]
        first: dict[str, str] = {}  # each key's first text, in the order of first sight
        for key, text in zip(keys, texts, strict=True):
            first.setdefault(key, text)
        found = self.cache.lookup(encoder_id, list(first), kind) if cache else {}
        missing = [key for key in first if key not in found]
        computed: dict[str, np.ndarray] = {}
        if missing:
            model = self.encoder(encoder)
            vectors = model.encode([first[key] for key in missing]).astype(kind)
            computed = dict(zip(missing, vectors, strict=True))
        if cache:
            self.cache.store(encoder_id, computed, kind, hits=len(found))
        every = {**found, **computed}
        dim = len(next(iter(every.values()))) if every else encoder_dim(encoder)
        out = np.empty((len(texts), dim), dtype=kind)
        for row, key in enumerate(keys):
            out[row] = every[key]
        seconds = time.perf_counter() - start
        self.last_call = EmbedCall(
            encoder_id, kind, len(texts), len(first), len(found), len(computed), seconds
        )
        return out

    def cache_stats(self, encoder: str = "minilm") -> CacheStats:
        return self.cache.stats(encoder_id_of(encoder))

    def build_index(
        self,
        name: str,
        texts: Sequence[str],
        *,
        encoder: str = "minilm",
        labels: Sequence[str | None] | None = None,
        kind: str = "auto",
        source: str = "",
    ) -> BuiltIndex:
        """Embed ``texts`` (through the cache) and register an index over them as ``name``."""
        texts = _check_texts(texts)
        if not texts:
            raise DataError("an index needs at least one text")
        check_index_target(self.registry, name, kind)  # before minutes of embedding
        start = time.perf_counter()
        vectors = self.embed(texts, encoder)
        index = VectorIndex.build(
            vectors,
            encoder=encoder_id_of(encoder),
            kind=kind,
            texts=texts,
            labels=labels,
            source=source,
        )
        version = save_index(self.registry, name, index)
        seconds = time.perf_counter() - start
        logger.info(
            "index %s: %d vectors (%s) in %.1f s", version.ref, len(index), index.kind, seconds
        )
        return BuiltIndex(version, len(index), index.kind, index.encoder, seconds)

    def search(
        self, index: str | VectorIndex, query: str | Sequence[str], top_k: int = 5
    ) -> list[SearchHit] | list[list[SearchHit]]:
        """The ``top_k`` nearest items of ``query`` in ``index`` (a registry name or a
        :class:`VectorIndex`); a list of queries gives one list of hits each."""
        loaded = load_index(self.registry, index) if isinstance(index, str) else index
        name = loaded.encoder.partition("@")[0]
        queries = [query] if isinstance(query, str) else _check_texts(query)
        if not queries:
            raise ConfigError("search needs at least one query")
        encoder_id = encoder_id_of(name)
        loaded.check_encoder(encoder_id)  # before the encoder is loaded to embed the query
        vectors = self.embed(queries, name, cache=False)
        hits = loaded.search(vectors, top_k, encoder=encoder_id)
        return hits[0] if isinstance(query, str) else hits
