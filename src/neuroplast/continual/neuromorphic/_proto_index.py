"""Exact inner-product search over prototypes: faiss (an IndexIDMap over an IndexFlatIP, so a
prototype can be updated or removed by its id) or a brute-force matrix product (numpy). Both
return the same neighbours; k past the memory's size is padded with id -1, similarity -inf."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from neuroplast.errors import ConfigError

__all__ = ["BruteIndex", "FaissIndex", "PrototypeIndex", "make_index"]


class PrototypeIndex(Protocol):
    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def search(
        self, queries: np.ndarray, k: int, ids: np.ndarray, vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as e:
        raise ConfigError(
            "prototype_manager.indexing_backend: faiss needs faiss-cpu: pip install "
            "'neuroplast[encoders]', or set indexing_backend: brute"
        ) from e
    return faiss


def _pad(sims: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    n, have = sims.shape
    if have >= k:
        return sims[:, :k], ids[:, :k]
    out_s = np.full((n, k), -np.inf, dtype=np.float32)
    out_i = np.full((n, k), -1, dtype=np.int64)
    out_s[:, :have], out_i[:, :have] = sims, ids
    return out_s, out_i


class BruteIndex:
    """Every query against every prototype (``queries @ vectors.T``) and a top-k."""

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Nothing to keep: the search reads the memory's arrays."""

    def remove(self, ids: np.ndarray) -> None:
        """Nothing to keep: the search reads the memory's arrays."""

    def search(
        self, queries: np.ndarray, k: int, ids: np.ndarray, vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        if len(ids) == 0:
            return _pad(np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0)), k)
        sims = queries @ vectors.T
        take = min(k, len(ids))
        if take < len(ids):
            part = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        else:
            part = np.broadcast_to(np.arange(len(ids)), sims.shape)
        picked = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-picked, axis=1, kind="stable")
        rows = np.take_along_axis(part, order, axis=1)
        found = np.take_along_axis(sims, rows, axis=1).astype(np.float32)
        return _pad(found, ids[rows].astype(np.int64), k)


class FaissIndex:
    """faiss's exact inner product with the prototypes' ids: an update is a remove + add."""

    def __init__(self, dim: int) -> None:
        faiss = _faiss()
        self._faiss = faiss
        self.index = faiss.IndexIDMap(faiss.IndexFlatIP(dim))

    def upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        self.remove(ids)
        self.index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, np.int64)
        )

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self.index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))

    def search(
        self, queries: np.ndarray, k: int, ids: np.ndarray, vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        have = int(self.index.ntotal)
        if have != len(ids):
            raise RuntimeError(f"the faiss index holds {have} prototypes, the memory {len(ids)}")
        if have == 0:
            return _pad(np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0)), k)
        sims, found = self.index.search(np.ascontiguousarray(queries), min(k, have))
        return _pad(sims.astype(np.float32), found.astype(np.int64), k)


def make_index(backend: str, dim: int) -> PrototypeIndex:
    if backend == "faiss":
        return FaissIndex(dim)
    if backend == "brute":
        return BruteIndex()
    raise ConfigError(f"indexing_backend must be faiss or brute, got {backend!r}")
