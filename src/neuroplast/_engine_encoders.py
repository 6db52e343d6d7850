"""The Engine's verbs on pretrained encoders: sentence vectors (cached in the registry) and
vector indexes.

A mixin of the Engine (see :mod:`neuroplast._engine_base`); it holds no logic of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from neuroplast.encoders.index import SearchHit
    from neuroplast.encoders.service import BuiltIndex, Embeddings

from neuroplast._engine_base import EngineServices

__all__ = ["EncoderVerbs"]


class EncoderVerbs(EngineServices):
    """Sentence vectors (with the registry's cache) and vector indexes."""

    # ---- sentence vectors and vector indexes (neuroplast.encoders) -------------------------
    @property
    def embeddings(self) -> Embeddings:
        """Pretrained sentence encoders with the registry's embedding cache, and indexes."""
        service: Embeddings | None = getattr(self, "_embeddings", None)
        if service is None:
            from neuroplast.encoders.service import Embeddings

            service = self._embeddings = Embeddings(self.registry)
        return service

    def embed(
        self, texts: Sequence[str], encoder: str = "minilm", *, dtype: str = "float32"
    ) -> np.ndarray:
        """Unit-length sentence vectors ``[len(texts), dim]`` of ``dtype`` (float32 or
        float16), mean-pooled over the attention mask; cached in the registry."""
        return self.embeddings.embed(texts, encoder, dtype=dtype)

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
        """Embed ``texts`` and register a faiss index over them as ``name`` (a new version)."""
        return self.embeddings.build_index(
            name, texts, encoder=encoder, labels=labels, kind=kind, source=source
        )

    def search(
        self, index: str, query: str | Sequence[str], top_k: int = 5
    ) -> list[SearchHit] | list[list[SearchHit]]:
        """The ``top_k`` nearest items of ``query`` in the index ``index``; refused when
        the index was built by another encoder or other weights."""
        return self.embeddings.search(index, query, top_k)
