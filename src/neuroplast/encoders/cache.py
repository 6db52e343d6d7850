"""The embedding cache: vectors kept in the registry database, keyed by encoder and input.

A row holds one input's vector under one encoder (``minilm@<weights sha256 prefix>``: other
weights never share it), keyed by the sha256 of the input after :func:`normalise_text`,
stored as ``dim`` raw numbers of its ``dtype`` (float32, or float16 at half the size, read
back exactly as written). The cache holds at most ``max_entries`` rows over all encoders
(``NEUROPLAST_EMBED_CACHE_SIZE``, default 100,000: about 160 MB of float32 384-d vectors);
past that the rows used longest ago go first. Hits and misses are counted per encoder.
A read-only registry is read and never written.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from neuroplast.errors import ConfigError
from neuroplast.registry.schema import EmbeddingRow, EmbeddingStatsRow, utcnow

if TYPE_CHECKING:
    from neuroplast.registry import Registry

__all__ = ["DTYPES", "CacheStats", "EmbeddingCache", "normalise_text", "text_key"]

logger = logging.getLogger(__name__)
Dtype = Literal["float32", "float16"]
DTYPES: tuple[Dtype, ...] = ("float32", "float16")
SIZE_ENV = "NEUROPLAST_EMBED_CACHE_SIZE"
DEFAULT_MAX_ENTRIES = 100_000
_CHUNK = 500  # keys per IN (...) query
# the tokenizer turns tab, line feed and carriage return into spaces and splits on spaces,
# so runs of them (and those at either end) never change a vector
_SPACES = re.compile(r"[ \t\n\r]+")


def normalise_text(text: str) -> str:
    """``text`` with runs of ASCII white space made one space and both ends stripped: the
    texts that give the same tokens, and so the same vector, share one cache row."""
    return _SPACES.sub(" ", text).strip(" ")


def text_key(text: str) -> str:
    """The cache key of ``text``: the sha256 of its normalised UTF-8 bytes."""
    return hashlib.sha256(normalise_text(text).encode("utf-8", "surrogatepass")).hexdigest()


def check_dtype(dtype: str) -> Dtype:
    if dtype not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return dtype


@dataclass(frozen=True)
class CacheStats:
    """The counters of one encoder and the rows it holds."""

    encoder: str
    entries: int
    hits: int
    misses: int
    max_entries: int

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


def _max_entries_from_env() -> int:
    raw = os.environ.get(SIZE_ENV, "")
    if not raw:
        return DEFAULT_MAX_ENTRIES
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(f"{SIZE_ENV}={raw!r} must be a whole number of rows (0: no cache)")
    return value


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class EmbeddingCache:
    """The registry's embedding rows (``embeddings``, ``embedding_stats``) for one process."""

    def __init__(self, registry: Registry, *, max_entries: int | None = None) -> None:
        if max_entries is not None and max_entries < 0:
            raise ConfigError(f"max_entries must be >= 0, got {max_entries}")
        self.registry = registry
        self.max_entries = _max_entries_from_env() if max_entries is None else max_entries

    @property
    def writable(self) -> bool:
        return self.max_entries > 0 and not self.registry.read_only

    def lookup(self, encoder: str, keys: Sequence[str], dtype: Dtype) -> dict[str, np.ndarray]:
        """The cached vectors of ``keys`` (those stored with ``dtype``), marked as used now."""
        found: dict[str, np.ndarray] = {}
        ids: list[int] = []
        with self.registry.session(readonly=True) as s:
            for chunk in _chunks(keys):
                rows = s.execute(
                    select(EmbeddingRow.id, EmbeddingRow.key, EmbeddingRow.vector).where(
                        EmbeddingRow.encoder == encoder,
                        EmbeddingRow.key.in_(chunk),
                        EmbeddingRow.dtype == dtype,
                    )
                ).all()
                for row_id, key, vector in rows:
                    found[key] = np.frombuffer(vector, dtype=dtype)
                    ids.append(row_id)
        if ids and self.writable:
            now = utcnow()
            with self.registry.session() as s:
                for start in range(0, len(ids), _CHUNK):
                    chunk_ids = ids[start : start + _CHUNK]
                    s.execute(
                        update(EmbeddingRow)
                        .where(EmbeddingRow.id.in_(chunk_ids))
                        .values(used_at=now)
                    )
        return found

    def store(
        self, encoder: str, vectors: Mapping[str, np.ndarray], dtype: Dtype, *, hits: int
    ) -> int:
        """Keep ``vectors`` (key -> vector, replacing a row of another dtype), count ``hits``
        and ``len(vectors)`` misses, evict past the bound; returns how many rows went."""
        if not self.writable:
            return 0
        for attempt in (1, 2):
            try:
                return self._store(encoder, vectors, dtype, hits)
            except IntegrityError as e:  # another process added a row or counter meanwhile
                if attempt == 2:
                    logger.warning("embedding cache: %d vectors not kept (%s)", len(vectors), e)
        return 0

    def _store(
        self, encoder: str, vectors: Mapping[str, np.ndarray], dtype: Dtype, hits: int
    ) -> int:
        now = utcnow()
        with self.registry.session() as s:
            keys = list(vectors)
            for chunk in _chunks(keys):  # another dtype, or another process's fresh row
                s.execute(
                    delete(EmbeddingRow).where(
                        EmbeddingRow.encoder == encoder, EmbeddingRow.key.in_(chunk)
                    )
                )
            s.add_all(
                EmbeddingRow(
                    encoder=encoder,
                    key=key,
                    dtype=dtype,
                    dim=int(vector.shape[0]),
                    vector=np.ascontiguousarray(vector, dtype=dtype).tobytes(),
                    used_at=now,
                )
                for key, vector in vectors.items()
            )
            stats = s.get(EmbeddingStatsRow, encoder)
            if stats is None:
                stats = EmbeddingStatsRow(encoder=encoder, hits=0, misses=0)
                s.add(stats)
            stats.hits += hits
            stats.misses += len(vectors)
            s.flush()
            return self._evict(s)

    def _evict(self, s: Session) -> int:
        total = s.scalar(select(func.count(EmbeddingRow.id))) or 0
        extra = total - self.max_entries
        if extra <= 0:
            return 0
        oldest = (
            select(EmbeddingRow.id)
            .order_by(EmbeddingRow.used_at, EmbeddingRow.id)
            .limit(extra)
            .scalar_subquery()
        )
        s.execute(delete(EmbeddingRow).where(EmbeddingRow.id.in_(oldest)))
        logger.info("embedding cache: evicted %d rows used longest ago", extra)
        return extra

    def stats(self, encoder: str) -> CacheStats:
        with self.registry.session(readonly=True) as s:
            row = s.get(EmbeddingStatsRow, encoder)
            entries = s.scalar(
                select(func.count(EmbeddingRow.id)).where(EmbeddingRow.encoder == encoder)
            )
            return CacheStats(
                encoder=encoder,
                entries=int(entries or 0),
                hits=0 if row is None else int(row.hits),
                misses=0 if row is None else int(row.misses),
                max_entries=self.max_entries,
            )

    def clear(self, encoder: str | None = None) -> int:
        """Delete the rows (of ``encoder``, or all) and their counters; returns the rows."""
        self.registry.require_writable("clearing the embedding cache")
        with self.registry.session() as s:
            rows = delete(EmbeddingRow)
            stats = delete(EmbeddingStatsRow)
            if encoder is not None:
                rows = rows.where(EmbeddingRow.encoder == encoder)
                stats = stats.where(EmbeddingStatsRow.encoder == encoder)
            counted = select(func.count(EmbeddingRow.id))
            if encoder is not None:
                counted = counted.where(EmbeddingRow.encoder == encoder)
            count = s.scalar(counted) or 0
            s.execute(rows)
            s.execute(stats)
            return int(count)
