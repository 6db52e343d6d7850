"""``neuroplast index build | list`` and ``neuroplast search``: vector indexes in the registry."""

from __future__ import annotations

import typer
from rich.table import Table

from neuroplast.cli._common import HomeOption, JsonOption, console, print_json, setup_logging

app = typer.Typer(help="Vector indexes over sentence vectors (faiss), kept in the registry.")

_KINDS_HELP = (
    "flat (exact), hnsw or ivf (approximate), or auto: flat below 50,000 vectors, hnsw above."
)


@app.command("build")
def build(
    name: str = typer.Argument(..., help="The index's name in the registry (a new version)."),
    encoder: str = typer.Option("minilm", "--encoder", "-e", help="The encoder: minilm."),
    data: str = typer.Option(
        ..., "--data", "-d", help="A built-in text data set (bbc_news...) or a table file."
    ),
    text_column: str = typer.Option("text", "--text-column", help="Text column of a file."),
    label_column: str = typer.Option(
        None, "--label-column", help="Label column of a file (default: 'label' if present)."
    ),
    limit: int = typer.Option(None, "--limit", help="Index only this many rows."),
    kind: str = typer.Option("auto", "--kind", help=_KINDS_HELP),
    as_json: JsonOption = False,
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Embed a corpus and register a vector index over it.

    --json prints {ref, vectors, kind, encoder, seconds, source}."""
    setup_logging(verbose)
    from neuroplast.encoders.corpus import load_corpus
    from neuroplast.engine import Engine

    corpus = load_corpus(data, text_column=text_column, label_column=label_column, limit=limit)
    with Engine(home) as engine:
        built = engine.build_index(
            name,
            corpus.texts,
            encoder=encoder,
            labels=corpus.labels,
            kind=kind,
            source=corpus.source,
        )
    report = {
        "ref": built.version.ref,
        "vectors": built.vectors,
        "kind": built.kind,
        "encoder": built.encoder,
        "seconds": round(built.seconds, 2),
        "source": corpus.source,
    }
    if as_json:
        print_json(report)
        return
    console.print(
        f"registered {built.version.ref}: {built.vectors} vectors of {built.encoder} from "
        f"{corpus.source}, {built.kind} index, in {built.seconds:.1f} s",
        markup=False,
    )


@app.command("list")
def list_indexes(as_json: JsonOption = False, home: HomeOption = None) -> None:
    """The indexes of the registry, newest version of each.

    --json prints [{ref, vectors, kind, encoder, source, created_at}]."""
    from neuroplast.encoders.index import INDEX_ARCHITECTURE
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        rows = [
            m.latest
            for m in engine.registry.list_models()
            if m.latest is not None and m.architecture == INDEX_ARCHITECTURE
        ]
    found = [
        {
            "ref": v.ref,
            "vectors": v.config.get("count"),
            "kind": v.config.get("kind"),
            "encoder": v.config.get("encoder"),
            "source": v.config.get("source"),
            "created_at": v.created_at,
        }
        for v in rows
        if v is not None
    ]
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("no index yet: neuroplast index build NAME --encoder minilm --data bbc_news")
        return
    table = Table(title="Vector indexes")
    for column in ("ref", "vectors", "kind", "encoder", "source"):
        table.add_column(column, justify="right" if column == "vectors" else "left")
    for row in found:
        table.add_row(*(str(row[c]) for c in ("ref", "vectors", "kind", "encoder", "source")))
    console.print(table)


def search(
    index: str = typer.Argument(..., help="The index: NAME (its newest version) or NAME:N."),
    query: list[str] = typer.Argument(..., help="One or more queries."),
    top_k: int = typer.Option(5, "--top-k", "-k", help="How many neighbours per query."),
    as_json: JsonOption = False,
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """The nearest items of an index to each query (cosine similarity of sentence vectors).

    --json prints [{query, hits: [{rank, id, score, text, label}]}]."""
    setup_logging(verbose)
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        found = engine.search(index, list(query), top_k)
    results = [
        {"query": q, "hits": [h.to_dict() for h in hits]}
        for q, hits in zip(query, found, strict=True)
        if isinstance(hits, list)
    ]
    if as_json:
        print_json(results)
        return
    for result in results:
        table = Table(title=f"{index}: {result['query']}")
        for column in ("rank", "score", "label", "id", "text"):
            table.add_column(
                column, justify="right" if column in ("rank", "score", "id") else "left"
            )
        for hit in result["hits"]:
            text = " ".join(str(hit["text"]).split())
            table.add_row(
                str(hit["rank"]),
                f"{hit['score']:.3f}",
                str(hit["label"] or ""),
                str(hit["id"]),
                text if len(text) <= 90 else text[:87] + "...",
            )
        console.print(table)
