"""Vector indexes (faiss-cpu) over unit-length sentence vectors, kept in the registry.

``flat`` is exact: ``IndexFlatIP`` (inner product, which is cosine similarity on unit
vectors) behind an ``IndexIDMap2`` so that hits carry the caller's ids. ``hnsw`` (a graph,
``IndexHNSWFlat``) and ``ivf`` (``IndexIVFFlat``, k-means cells) are approximate; ``auto``
takes ``flat`` below :data:`APPROX_THRESHOLD` vectors and ``hnsw`` from there, where it
measured faster (``benchmarks/bench_embed.py``). An index remembers the encoder id its
vectors came from and refuses queries made by any other encoder or weights.

In the registry an index is a model of architecture ``vector_index`` (task ``search``):
each build is a new version holding ``index.faiss`` (faiss's own binary format, never a
pickle), ``index.json`` (encoder, kind, size) and ``items.json`` (ids, texts, labels), each
verified by sha256 when read back.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from neuroplast._version import ARTIFACT_SCHEMA_VERSION, __version__
from neuroplast.config import is_valid_model_name
from neuroplast.errors import ArtifactError, ConfigError, DataError
from neuroplast.registry.artifacts import atomic_write_bytes, read_verified

if TYPE_CHECKING:
    from neuroplast.registry import Registry, VersionRecord

__all__ = [
    "APPROX_THRESHOLD",
    "INDEX_ARCHITECTURE",
    "SearchHit",
    "VectorIndex",
    "check_index_target",
    "load_index",
    "save_index",
]

logger = logging.getLogger(__name__)
KINDS: tuple[str, ...] = ("auto", "flat", "hnsw", "ivf")
INDEX_ARCHITECTURE = "vector_index"
#: From this many vectors ``auto`` builds HNSW (bench_embed: see docs/embeddings.md).
APPROX_THRESHOLD = 50_000
_HNSW_M, _HNSW_EF_BUILD, _HNSW_EF_SEARCH = 32, 80, 128
_IVF_NPROBE = 16
_FILES = ("index.faiss", "index.json", "items.json")


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as e:
        raise ConfigError(
            "vector indexes need faiss-cpu: pip install 'neuroplast[encoders]'"
        ) from e
    return faiss


@dataclass(frozen=True)
class SearchHit:
    """One neighbour: its rank (1 = nearest), id, cosine similarity and what was indexed."""

    rank: int
    id: int
    score: float
    text: str
    label: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class VectorIndex:
    """A faiss index with its encoder id and the items it holds (``ids``, ``texts``,
    ``labels``). Build one with :meth:`build`; query it with :meth:`search`."""

    def __init__(
        self,
        index: Any,
        *,
        encoder: str,
        kind: str,
        ids: Sequence[int],
        texts: Sequence[str],
        labels: Sequence[str | None],
        source: str = "",
    ) -> None:
        if not len(ids) == len(texts) == len(labels) == index.ntotal:
            raise ArtifactError(
                f"the index holds {index.ntotal} vectors but {len(ids)} ids, "
                f"{len(texts)} texts and {len(labels)} labels: rebuild it"
            )
        self.index = index
        self.encoder = encoder
        self.kind = kind
        self.dim = int(index.d)
        self.source = source
        self.ids = [int(i) for i in ids]
        self.texts = list(texts)
        self.labels = list(labels)
        self._position = {item: pos for pos, item in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        *,
        encoder: str,
        kind: str = "auto",
        texts: Sequence[str] | None = None,
        labels: Sequence[str | None] | None = None,
        ids: Sequence[int] | None = None,
        source: str = "",
    ) -> VectorIndex:
        """An index over ``vectors`` ``[n, dim]`` (unit length, from ``encoder``)."""
        vectors = _check_vectors(vectors)
        n = len(vectors)
        if kind not in KINDS:
            raise ConfigError(f"index kind must be one of {', '.join(KINDS)}, got {kind!r}")
        chosen = ("hnsw" if n >= APPROX_THRESHOLD else "flat") if kind == "auto" else kind
        id_array = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, np.int64)
        if id_array.shape != (n,) or len(set(id_array.tolist())) != n:
            raise DataError(f"ids must be {n} distinct integers, one per vector")
        faiss = _faiss()
        index = faiss.IndexIDMap2(_inner(faiss, chosen, vectors))
        index.add_with_ids(vectors, id_array)
        return cls(
            index,
            encoder=encoder,
            kind=chosen,
            ids=id_array.tolist(),
            texts=list(texts) if texts is not None else [""] * n,
            labels=list(labels) if labels is not None else [None] * n,
            source=source,
        )

    def search(self, queries: np.ndarray, top_k: int, *, encoder: str) -> list[list[SearchHit]]:
        """The ``top_k`` nearest items of each query vector (made by ``encoder``)."""
        self.check_encoder(encoder)
        if top_k < 1:
            raise ConfigError(f"top_k must be at least 1, got {top_k}")
        queries = _check_vectors(np.atleast_2d(queries), dim=self.dim)
        scores, found = self.index.search(queries, min(top_k, len(self)))
        return [
            [
                self._hit(rank, int(i), float(s))
                for rank, (s, i) in enumerate(zip(row_s, row_i, strict=True), 1)
                if i >= 0
            ]
            for row_s, row_i in zip(scores, found, strict=True)
        ]

    def check_encoder(self, encoder: str) -> None:
        """Refuse vectors of any encoder (or weights) other than the index's own."""
        if encoder != self.encoder:
            raise ConfigError(
                f"this index holds vectors of encoder {self.encoder}; the queries come from "
                f"{encoder}: vectors of different encoders (or weights) are not comparable. "
                "Query with the index's encoder, or rebuild the index with this one"
            )

    def _hit(self, rank: int, item: int, score: float) -> SearchHit:
        pos = self._position[item]
        return SearchHit(rank, item, score, self.texts[pos], self.labels[pos])

    def meta(self) -> dict[str, Any]:
        return {
            "format": ARTIFACT_SCHEMA_VERSION,
            "neuroplast_version": __version__,
            "encoder": self.encoder,
            "kind": self.kind,
            "dim": self.dim,
            "count": len(self),
            "metric": "inner_product",
            "source": self.source,
        }

    def to_files(self) -> dict[str, bytes]:
        faiss = _faiss()
        items = {"ids": self.ids, "texts": self.texts, "labels": self.labels}
        return {
            "index.faiss": faiss.serialize_index(self.index).tobytes(),
            "index.json": json.dumps(self.meta(), indent=2, sort_keys=True).encode(),
            "items.json": json.dumps(items, ensure_ascii=False).encode(),
        }

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> VectorIndex:
        try:
            meta = json.loads(files["index.json"])
            items = json.loads(files["items.json"])
        except (KeyError, ValueError) as e:
            raise ArtifactError(f"the index's JSON files are missing or broken: {e}") from e
        faiss = _faiss()
        try:
            index = faiss.deserialize_index(np.frombuffer(files["index.faiss"], dtype=np.uint8))
        except (KeyError, RuntimeError) as e:
            raise ArtifactError(f"index.faiss cannot be read: {e}") from e
        inner = faiss.downcast_index(index.index)
        if meta.get("kind") == "hnsw":
            inner.hnsw.efSearch = _HNSW_EF_SEARCH
        elif meta.get("kind") == "ivf":
            inner.nprobe = min(_IVF_NPROBE, inner.nlist)
        return cls(
            index,
            encoder=str(meta["encoder"]),
            kind=str(meta["kind"]),
            ids=items["ids"],
            texts=items["texts"],
            labels=items["labels"],
            source=str(meta.get("source", "")),
        )


def _check_vectors(vectors: np.ndarray, dim: int | None = None) -> np.ndarray:
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    if array.ndim != 2 or len(array) == 0:
        raise DataError(f"expected a non-empty [n, dim] array of vectors, got shape {array.shape}")
    if dim is not None and array.shape[1] != dim:
        raise DataError(f"the vectors have {array.shape[1]} dimensions; the index has {dim}")
    if not np.isfinite(array).all():
        raise DataError("the vectors hold NaN or infinite values")
    return array


def _inner(faiss: Any, kind: str, vectors: np.ndarray) -> Any:
    dim, n = vectors.shape[1], len(vectors)
    if kind == "flat":
        return faiss.IndexFlatIP(dim)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, _HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = _HNSW_EF_BUILD
        index.hnsw.efSearch = _HNSW_EF_SEARCH
        return index
    cells = max(1, min(int(4 * math.sqrt(n)), n // 39))  # faiss wants ~39 points per cell
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, cells, faiss.METRIC_INNER_PRODUCT)
    index.train(vectors)
    index.nprobe = min(_IVF_NPROBE, cells)
    return index  # faiss's wrapper keeps the quantizer alive with the index


def save_index(registry: Registry, name: str, index: VectorIndex) -> VersionRecord:
    """Register ``index`` as the next version of ``name`` (a new index, or a rebuild of
    one: a model of another kind is never overwritten)."""
    _refuse_non_index(registry, name)
    meta = index.meta()
    record = registry.create_version(
        name,
        architecture=INDEX_ARCHITECTURE,
        task="search",
        modality="text",
        config=meta,
        source="index",
    )
    folder = record.artifact_dir
    files = {}
    for file, data in index.to_files().items():
        path = folder / file
        files[file] = (path, atomic_write_bytes(path, data))
    metrics = {"vectors": len(index), "kind": index.kind}
    # its "parameters" are the numbers it stores (models show counts a bundle's otherwise)
    numbers = len(index) * index.dim
    return registry.finalize_version(record.id, files=files, params_count=numbers, metrics=metrics)


def check_index_target(registry: Registry, name: str, kind: str = "auto") -> None:
    """Refuse, before any work, an index kind or name that :func:`save_index` would."""
    if kind not in KINDS:
        raise ConfigError(f"index kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not is_valid_model_name(name):
        raise ConfigError(
            f"index name {name!r} is not allowed: use letters, digits, '_', '-' and '.', at "
            "most 100 characters"
        )
    _refuse_non_index(registry, name)


def _refuse_non_index(registry: Registry, name: str) -> None:
    for version in registry.versions(name):
        if version.architecture != INDEX_ARCHITECTURE:
            raise ConfigError(
                f"{name!r} is a {version.architecture} model of the registry, not a vector "
                "index: choose another name for the index"
            )


def load_index(registry: Registry, ref: str) -> VectorIndex:
    """The index ``ref`` (``name`` is its newest version, ``name:N`` a given one), its files
    verified against their sha256."""
    version = registry.resolve(ref)
    if version.architecture != INDEX_ARCHITECTURE:
        raise ConfigError(
            f"{version.ref} is a {version.architecture} model, not a vector index; build one "
            f"with `neuroplast index build NAME --encoder minilm --data bbc_news`"
        )
    version = registry.ensure_local(version)
    missing = [f for f in _FILES if f not in version.artifacts]
    if missing:
        raise ArtifactError(f"{version.ref} lacks {', '.join(missing)}: rebuild the index")
    files = {
        f: read_verified(version.artifacts[f].path, version.artifacts[f].sha256) for f in _FILES
    }
    return VectorIndex.from_files(files)
