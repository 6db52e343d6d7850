"""``neuroplast embed``: sentence vectors of texts, through the registry's cache."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import typer

from neuroplast.cli._common import HomeOption, JsonOption, console, print_json, setup_logging
from neuroplast.cli._inputs import texts_from_file
from neuroplast.errors import ConfigError, DataError

if TYPE_CHECKING:
    from neuroplast.encoders.cache import CacheStats
    from neuroplast.encoders.service import EmbedCall

_SUFFIXES = (".parquet", ".npy")


def embed(
    encoder: str = typer.Argument(..., help="The encoder: minilm."),
    texts: list[str] = typer.Argument(None, help="Texts to embed (or --file)."),
    file: Path | None = typer.Option(
        None, "--file", "-f", help="CSV / JSONL / Parquet (text column) or .txt (one per line)."
    ),
    text_column: str = typer.Option("text", "--text-column", help="Column of --file to read."),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Write the vectors: .parquet (columns row, vector; the encoder id and dtype in "
        "its metadata) or .npy (one [texts, dim] array).",
    ),
    dtype: str = typer.Option("float32", "--dtype", help="float32, or float16 (half the size)."),
    as_json: JsonOption = False,
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Unit-length sentence vectors (mean pooling over the attention mask). Vectors are kept
    in the registry's cache: a text embedded before is read back, not computed again.

    --json prints {encoder, dtype, dim, texts, distinct, cached, computed, seconds, output,
    cache: {entries, hits, misses, max_entries}}."""
    setup_logging(verbose)
    if output is not None and output.suffix.lower() not in _SUFFIXES:
        raise ConfigError(f"--output {output}: write .parquet or .npy, got {output.suffix!r}")
    items = list(texts or [])
    if file is not None:
        items += texts_from_file(file, text_column)
    if not items:
        where = f" ({file} has no texts)" if file is not None else ""
        raise DataError(f"nothing to embed{where}: give texts as arguments or --file FILE")
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        vectors = engine.embed(items, encoder, dtype=dtype)
        call = engine.embeddings.last_call
        stats = engine.embeddings.cache_stats(encoder)
    if call is None:  # pragma: no cover - embed always records its call
        raise DataError("no vectors were made")
    if output is not None:
        _write(output, vectors, call.encoder)
    report = _report(call, vectors, stats, output)
    if as_json:
        print_json(report)
        return
    _print(report, items, vectors)


def _report(
    call: EmbedCall, vectors: np.ndarray, stats: CacheStats, output: Path | None
) -> dict[str, Any]:
    return {
        "encoder": call.encoder,
        "dtype": call.dtype,
        "dim": int(vectors.shape[1]),
        "texts": call.texts,
        "distinct": call.distinct,
        "cached": call.cached,
        "computed": call.computed,
        "seconds": round(call.seconds, 3),
        "output": None if output is None else str(output),
        "cache": {
            "entries": stats.entries,
            "hits": stats.hits,
            "misses": stats.misses,
            "max_entries": stats.max_entries,
        },
    }


def _print(report: dict[str, Any], items: list[str], vectors: np.ndarray) -> None:
    target = f" -> {report['output']}" if report["output"] is not None else ""
    console.print(
        f"{report['texts']} texts ({report['distinct']} distinct): {report['cached']} from the "
        f"cache, {report['computed']} computed in {report['seconds']:.2f} s; {report['dim']}-d "
        f"{report['dtype']} vectors of {report['encoder']}{target}",
        markup=False,
    )
    if report["output"] is None:
        for text, vector in zip(items[:5], vectors[:5], strict=False):
            head = ", ".join(f"{v:+.4f}" for v in vector[:4])
            console.print(f"  [{head}, ...]  {text[:60]!r}", markup=False)
    cache = report["cache"]
    console.print(
        f"cache: {cache['entries']} vectors of this encoder, {cache['hits']} hits, "
        f"{cache['misses']} misses so far (at most {cache['max_entries']} rows in all)",
        markup=False,
    )


def _write(path: Path, vectors: np.ndarray, encoder: str) -> None:
    """The vectors as .npy or .parquet, written atomically (a temporary file, a rename)."""
    from neuroplast.registry.artifacts import atomic_write_bytes

    buffer = io.BytesIO()
    if path.suffix.lower() == ".npy":
        np.save(buffer, vectors, allow_pickle=False)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        dim = vectors.shape[1]
        flat = pa.array(vectors.reshape(-1))
        column = pa.FixedSizeListArray.from_arrays(flat, dim)
        table = pa.table(
            {"row": pa.array(np.arange(len(vectors), dtype=np.int64)), "vector": column}
        )
        meta = {"neuroplast.encoder": encoder, "neuroplast.dtype": str(vectors.dtype)}
        pq.write_table(table.replace_schema_metadata(meta), buffer)
    try:
        atomic_write_bytes(path.absolute(), buffer.getvalue())
    except OSError as e:
        raise DataError(f"cannot write {path}: {e}") from e
