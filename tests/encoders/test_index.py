"""Vector indexes: exact search equals brute force, approximate ones find the same
neighbours, an index refuses another encoder's queries and round-trips through the registry
verified by hash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neuroplast.encoders.index import VectorIndex, load_index, save_index
from neuroplast.encoders.service import Embeddings
from neuroplast.errors import ArtifactError, ConfigError, DataError, ModelNotFoundError
from neuroplast.registry import Registry

ENC = "minilm@0123456789abcdef"


def _clustered(n: int, dim: int = 32, clusters: int = 20, seed: int = 0) -> np.ndarray:
    """Unit vectors around ``clusters`` centres: the shape of sentence vectors of topics."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    v = centres[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, dim))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_flat_search_is_brute_force_with_the_callers_ids() -> None:
    vectors, queries = _clustered(500), _clustered(20, seed=1)
    ids = np.arange(500) * 7 + 3
    index = VectorIndex.build(vectors, encoder=ENC, kind="flat", ids=ids.tolist())
    assert index.kind == "flat" and len(index) == 500
    found = index.search(queries, 5, encoder=ENC)
    scores = queries @ vectors.T
    for q, hits in enumerate(found):
        best = np.argsort(-scores[q], kind="stable")[:5]
        assert [h.id for h in hits] == ids[best].tolist()
        assert np.allclose([h.score for h in hits], scores[q, best], atol=1e-5)
        assert [h.rank for h in hits] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_kinds_find_nearly_the_same_neighbours(kind: str) -> None:
    vectors, queries = _clustered(2000), _clustered(50, seed=2)
    exact = VectorIndex.build(vectors, encoder=ENC, kind="flat").search(queries, 5, encoder=ENC)
    approx = VectorIndex.build(vectors, encoder=ENC, kind=kind).search(queries, 5, encoder=ENC)
    recall = np.mean(
        [len({h.id for h in a} & {h.id for h in e}) / 5 for a, e in zip(approx, exact, strict=True)]
    )
    assert recall >= 0.9, f"{kind} recall@5 {recall:.2f}"


def test_an_index_refuses_queries_of_another_encoder() -> None:
    index = VectorIndex.build(_clustered(10), encoder=ENC, kind="flat")
    with pytest.raises(ConfigError, match="not comparable"):
        index.search(_clustered(1), 3, encoder="minilm@ffffffffffffffff")
    with pytest.raises(DataError, match="the index has 32"):
        index.search(np.ones((1, 8), np.float32), 3, encoder=ENC)
    with pytest.raises(ConfigError, match="top_k must be at least 1"):
        index.search(_clustered(1), 0, encoder=ENC)
    with pytest.raises(ConfigError, match="index kind must be one of"):
        VectorIndex.build(_clustered(10), encoder=ENC, kind="annoy")
    with pytest.raises(DataError, match="NaN"):
        VectorIndex.build(np.full((2, 4), np.nan, np.float32), encoder=ENC)


def test_registry_round_trip_versions_and_verification(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "home")
    vectors = _clustered(200)
    built = VectorIndex.build(
        vectors, encoder=ENC, texts=[f"t{i}" for i in range(200)], labels=["a", "b"] * 100
    )
    first = save_index(registry, "idx", built)
    assert (first.ref, first.architecture, first.config["count"]) == ("idx:1", "vector_index", 200)
    assert first.params_count == 200 * 32  # the numbers it stores
    loaded = load_index(registry, "idx")
    hits = loaded.search(vectors[:3], 4, encoder=ENC)
    assert hits == built.search(vectors[:3], 4, encoder=ENC)
    assert (hits[0][0].id, hits[0][0].text, hits[0][0].label) == (0, "t0", "a")
    assert save_index(registry, "idx", built).ref == "idx:2"  # a rebuild is a new version
    faiss_file = registry.resolve("idx:2").artifacts["index.faiss"].path
    faiss_file.write_bytes(faiss_file.read_bytes()[:-8])
    with pytest.raises(ArtifactError, match=r"index\.faiss"):
        load_index(registry, "idx")
    assert len(load_index(registry, "idx:1")) == 200


def test_indexes_and_models_keep_apart(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "home")
    model = registry.create_version(
        "clf", architecture="cnn", task="classification", modality="text", config={}
    )
    registry.finalize_version(model.id, files={}, params_count=1)
    index = VectorIndex.build(_clustered(5), encoder=ENC)
    with pytest.raises(ConfigError, match="'clf' is a cnn model of the registry, not a vector"):
        save_index(registry, "clf", index)
    with pytest.raises(ConfigError, match="not a vector index"):
        load_index(registry, "clf")
    with pytest.raises(ModelNotFoundError, match="no model version matches 'nope'"):
        load_index(registry, "nope")


def test_search_refuses_an_index_of_other_weights(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "home")
    save_index(registry, "old", VectorIndex.build(_clustered(5, dim=384), encoder=ENC))
    with pytest.raises(ConfigError, match=r"holds vectors of encoder minilm@0123456789abcdef"):
        Embeddings(registry).search("old", "interest rates")
