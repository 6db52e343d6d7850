"""Sentence vectors, their cache and vector search on real text (issue 16).

- ``cache``: ``--texts`` distinct Rotten Tomatoes reviews (10,000) embedded by
  ``Embeddings.embed`` in a fresh registry: the first call computes every vector (MiniLM
  loaded and warmed before the clock starts; no row exists yet, so these are the uncached
  vectors) and writes the rows; the second reads them all back (median of ``--repeats``).
  The goal: second >= 20x faster, every vector the same bits as the first call's (and, with
  ``--check-uncached``, as a ``cache=False`` call's: one more full pass).
- ``quality``: every distinct bbc_news article (2,127 of 2,225) in an exact (flat) index; for
  each article, its 5 nearest other articles: the share of them with its topic (goal >= 0.9).
- ``latency``: exact (flat) against approximate (hnsw, ivf) indexes of 2,000 real vectors
  (bbc_news + reviews) and of 20,000 / 50,000 / 100,000 (the real vectors and copies of them
  moved by Gaussian noise of norm ~0.3 then made unit length again: there are not 100,000
  distinct texts to embed in a few minutes here). Per index: build seconds, the median
  latency of one query (``--queries`` held-out real vectors, one at a time, one faiss
  thread) and recall@5 against the exact answer.

    flock /tmp/s3/heavy.lock .venv/bin/python benchmarks/bench_embed.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import console, environment, print_environment, print_table, write_json
from neuroplast.data import TextData, load_builtin
from neuroplast.encoders.cache import text_key
from neuroplast.encoders.index import VectorIndex
from neuroplast.encoders.service import Embeddings
from neuroplast.registry import Registry


def distinct(texts: list[str]) -> list[int]:
    """Positions of the first text of each cache key (texts equal after normalisation)."""
    seen: set[str] = set()
    keep = []
    for i, text in enumerate(texts):
        key = text_key(text)
        if key not in seen and text.strip():
            seen.add(key)
            keep.append(i)
    return keep


def bench_cache(
    service: Embeddings, texts: list[str], repeats: int, check_uncached: bool
) -> dict[str, Any]:
    """The first call computes every vector (no row yet: these are the uncached vectors);
    ``check_uncached`` computes them all again with ``cache=False`` to compare."""
    start = time.perf_counter()
    first = service.embed(texts)
    first_s = time.perf_counter() - start
    seconds, same = [], True
    for _ in range(repeats):
        start = time.perf_counter()
        again = service.embed(texts)
        seconds.append(time.perf_counter() - start)
        same = same and np.array_equal(again, first)
    uncached = service.embed(texts, cache=False) if check_uncached else first
    second = statistics.median(seconds)
    stats = service.cache_stats()
    return {
        "texts": len(texts),
        "first_s": round(first_s, 2),
        "second_s": round(second, 3),
        "second_runs_s": [round(s, 3) for s in seconds],
        "speedup": round(first_s / second, 1),
        "identical_to_first": same,
        "identical_to_uncached": bool(np.array_equal(uncached, first)) if check_uncached else None,
        "cache_entries": stats.entries,
        "hits": stats.hits,
        "misses": stats.misses,
    }


def bench_quality(vectors: np.ndarray, labels: list[str], encoder: str) -> dict[str, Any]:
    index = VectorIndex.build(vectors, encoder=encoder, kind="flat", labels=labels)
    found = index.search(vectors, 6, encoder=encoder)
    shares, per_topic = [], {}
    for i, hits in enumerate(found):
        others = [h for h in hits if h.id != i][:5]
        share = sum(h.label == labels[i] for h in others) / len(others)
        shares.append(share)
        per_topic.setdefault(labels[i], []).append(share)
    return {
        "articles": len(labels),
        "top5_topic_agreement": round(float(np.mean(shares)), 4),
        "per_topic": {t: round(float(np.mean(v)), 4) for t, v in sorted(per_topic.items())},
    }


def grow(real: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` unit vectors: the real ones, then noisy copies of them."""
    if size <= len(real):
        return real[:size]
    rng = np.random.default_rng(seed)
    base = real[rng.integers(0, len(real), size - len(real))]
    noise = rng.normal(size=base.shape).astype(np.float32) * (0.3 / np.sqrt(real.shape[1]))
    extra = base + noise
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return np.concatenate([real, extra]).astype(np.float32)


def bench_latency(
    real: np.ndarray, queries: np.ndarray, sizes: list[int], encoder: str
) -> list[dict[str, Any]]:
    import faiss

    faiss.omp_set_num_threads(1)
    rows = []
    for size in sizes:
        vectors = grow(real, size, seed=size)
        exact_ids: list[set[int]] = []
        for kind in ("flat", "hnsw", "ivf"):
            start = time.perf_counter()
            index = VectorIndex.build(vectors, encoder=encoder, kind=kind)
            build_s = time.perf_counter() - start
            times, found = [], []
            for q in queries:
                start = time.perf_counter()
                hits = index.search(q[None, :], 5, encoder=encoder)[0]
                times.append(time.perf_counter() - start)
                found.append({h.id for h in hits})
            if kind == "flat":
                exact_ids = found
            recall = np.mean([len(a & b) / 5 for a, b in zip(found, exact_ids, strict=True)])
            rows.append(
                {
                    "vectors": size,
                    "kind": kind,
                    "build_s": round(build_s, 2),
                    "query_ms": round(1000 * statistics.median(times), 3),
                    "recall_at_5": round(float(recall), 4),
                }
            )
            console.print(rows[-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--texts", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sizes", default="2000,20000,50000,100000")
    parser.add_argument("--bbc-limit", type=int, default=None)
    parser.add_argument("--home", type=Path, default=None, help="registry (default: a temp one)")
    parser.add_argument(
        "--parts",
        default="cache,quality,latency",
        help="which parts; with one --home, later parts read the vectors from its cache",
    )
    parser.add_argument(
        "--check-uncached", action="store_true", help="embed the texts again with cache=False"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.texts, args.repeats, args.queries = 300, 2, 50
        args.sizes, args.bbc_limit = "2000,10000", 150
    env = environment()
    print_environment(env)
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-embed-"))
    service = Embeddings(Registry(home), max_entries=200_000)
    encoder = service.encoder("minilm")
    encoder.encode(["warm-up: one text outside the benchmark"])

    parts = set(args.parts.split(","))
    results: dict[str, Any] = {"environment": env}
    texts = review_texts(args.texts)
    if "cache" in parts:
        console.print(f"cache: {len(texts)} distinct reviews")
        cache = bench_cache(service, texts, args.repeats, args.check_uncached)
        results["cache"] = cache
        show_cache(cache)
    if parts & {"quality", "latency"}:
        articles, topics = news_articles(args.bbc_limit)
        console.print(f"quality: {len(articles)} distinct bbc_news articles")
        start = time.perf_counter()
        news_vectors = service.embed(articles)
        embed_news_s = time.perf_counter() - start
    if "quality" in parts:
        quality = bench_quality(news_vectors, topics, encoder.encoder_id)
        quality["embed_s"] = round(embed_news_s, 1)
        results["quality"] = quality
        show_quality(quality)
    if "latency" in parts:
        review_vectors = service.embed(texts)
        real = np.concatenate([news_vectors, review_vectors]).astype(np.float32)
        rng = np.random.default_rng(0)
        held = rng.choice(len(real), size=min(args.queries, len(real) // 10), replace=False)
        pool = np.delete(real, held, axis=0)
        sizes = [int(s) for s in args.sizes.split(",")]
        latency = bench_latency(pool, real[held], sizes, encoder.encoder_id)
        results["latency"] = latency
        show_latency(latency)
    if args.json:
        write_json(args.json, results)


def review_texts(count: int) -> list[str]:
    reviews = load_builtin("rotten_tomatoes")
    assert isinstance(reviews, TextData)
    keep = distinct(reviews.texts)
    if len(keep) < count:
        raise SystemExit(f"only {len(keep)} distinct reviews; ask for fewer --texts")
    return [reviews.texts[i] for i in keep[:count]]


def news_articles(limit: int | None) -> tuple[list[str], list[str]]:
    news = load_builtin("bbc_news", limit=limit)
    assert isinstance(news, TextData)
    unique = distinct(news.texts)
    topics = [news.label_names[int(news.labels[i])] for i in unique]
    return [news.texts[i] for i in unique], topics


def show_cache(cache: dict[str, Any]) -> None:
    print_table(
        "Embedding cache (Embeddings.embed, MiniLM, float32)",
        ["texts", "first s", "second s (median)", "speedup", "same bits", "= uncached"],
        [[str(cache["texts"]), f"{cache['first_s']:.1f}", f"{cache['second_s']:.3f}",
          f"{cache['speedup']:.0f}x", str(cache["identical_to_first"]),
          "not run" if cache["identical_to_uncached"] is None
          else str(cache["identical_to_uncached"])]],
    )  # fmt: skip


def show_quality(quality: dict[str, Any]) -> None:
    print_table(
        "bbc_news: topic of the 5 nearest other articles (exact index)",
        ["articles", "agreement", *quality["per_topic"]],
        [[str(quality["articles"]), f"{quality['top5_topic_agreement']:.3f}",
          *(f"{v:.3f}" for v in quality["per_topic"].values())]],
    )  # fmt: skip


def show_latency(latency: list[dict[str, Any]]) -> None:
    print_table(
        "Query latency, one query at a time, one faiss thread",
        ["vectors", "kind", "build s", "query ms (median)", "recall@5"],
        [[f"{r['vectors']:,}", r["kind"], f"{r['build_s']:.2f}", f"{r['query_ms']:.3f}",
          f"{r['recall_at_5']:.3f}"] for r in latency],
    )  # fmt: skip


if __name__ == "__main__":
    main()
