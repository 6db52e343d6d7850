"""``neuroplast explain``: why a model predicts what it predicts, and whether to believe it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from neuroplast.cli._common import MODEL_HELP, HomeOption, console, setup_logging
from neuroplast.cli._inputs import image_paths, texts_from_file
from neuroplast.explain import methods_help

if TYPE_CHECKING:
    from neuroplast.explain import ExplainReport


def _print_texts(report: ExplainReport, top_k: int, as_json: bool) -> None:
    from neuroplast.explain import explanation_view

    if not as_json:
        console.print(
            Text(f"{report.ref} ({report.architecture}), method {report.method}", style="bold")
        )
    for e in report.texts:
        if not as_json:
            console.print(explanation_view(e, top_k=top_k))
            continue
        row = {
            "text": e.text,
            "predicted": e.predicted_label,
            "target": e.target_label,
            "probability": round(e.probability, 6),
            "method": e.method,
            "tokens": e.tokens,
            "scores": [round(float(s), 6) for s in e.scores],
            "completeness_error": e.relative_delta,
        }
        typer.echo(json.dumps(row, ensure_ascii=False))


def _print_images(report: ExplainReport, as_json: bool) -> None:
    from rich.table import Table

    table = Table(title=f"{report.method} heat maps")
    for name in ("image", "predicted", "explained class", "probability", "heat on object"):
        table.add_column(name)
    if report.overlays:
        table.add_column("overlay")
    for i, e in enumerate(report.images):
        cells = [
            e.source,
            e.predicted_label,
            e.target_label,
            f"{e.probability:.4f}",
            f"{100 * e.heat_on_object():.1f} %",
        ]
        if report.overlays:
            cells.append(str(report.overlays[i]))
        table.add_row(*cells)
        if as_json:
            row: dict[str, Any] = {
                "image": e.source,
                "predicted": e.predicted_label,
                "target": e.target_label,
                "probability": round(e.probability, 6),
                "method": e.method,
                "heat_on_object": round(e.heat_on_object(), 6),
            }
            if report.overlays:
                row["overlay"] = cells[5]
            typer.echo(json.dumps(row, ensure_ascii=False))
    if not as_json:
        console.print(table)


def _print_checks(report: ExplainReport) -> None:
    from neuroplast.explain import completeness_table, deletion_table, heat_table

    ref, k = report.ref, report.deleted
    if report.deletion:
        title = (
            f"Deletion test of {ref} ({report.architecture}) on {report.checked} texts: mean "
            f"drop of the predicted-class probability, top {k} tokens deleted vs {k} random tokens"
        )
        console.print(deletion_table(report.deletion, title=title))
    if report.completeness is not None:
        console.print(
            completeness_table(
                report.completeness,
                title="Completeness of integrated gradients: sum of scores vs f(x) - f(PAD)",
            )
        )
    if report.heat:
        title = (
            f"Heat of {ref} on object pixels (> 0), {report.checked} test images; references: "
            "uniform heat, the same method on random weights"
        )
        console.print(heat_table(report.heat, title=title))


FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file", "-f", help="CSV / JSONL / Parquet (text column), .txt, or image folder."
    ),
]

MethodOption = Annotated[
    str | None,
    typer.Option(
        "--method",
        "-m",
        help=f"Texts (default ig): {methods_help('text')}. "
        f"Images (default gradcam): {methods_help('image')}.",
    ),
]

TargetOption = Annotated[
    str | None,
    typer.Option("--target", help="Class (index or label) to explain; default: the predicted one."),
]

FaithfulnessOption = Annotated[
    bool,
    typer.Option("--faithfulness", help="Measure how faithful each method is (test split)."),
]


def explain(
    model: str = typer.Argument(..., help=MODEL_HELP),
    inputs: list[str] = typer.Argument(None, help="Texts, or image files for image models."),
    file: FileOption = None,
    text_column: str = typer.Option("text", "--text-column", help="Column of --file to read."),
    method: MethodOption = None,
    target: TargetOption = None,
    top_k: int = typer.Option(5, "--top-k", "-k", help="Top tokens listed per text."),
    html: Path | None = typer.Option(None, "--html", help="Also write a self-contained report."),
    out: Path | None = typer.Option(None, "--out", "-o", help="PNG overlay (image models)."),
    faithfulness: FaithfulnessOption = False,
    n: int = typer.Option(200, "--n", help="Inputs for --faithfulness."),
    deleted: int = typer.Option(3, "--deleted", help="Tokens deleted in the deletion test."),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of coloured text."),
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Explain a registered model's predictions (tokens, attention, GradCAM) and check them."""
    setup_logging(verbose)
    from neuroplast.engine import Engine
    from neuroplast.explain import check_counts, save_html

    check_counts(n, deleted)
    items = list(inputs or [])
    with Engine(home) as engine:
        modality = engine.registry.resolve(model).modality
        if modality == "text":
            from_file = texts_from_file(file, text_column) if file is not None else []
            # With --faithfulness, --file feeds the checks; otherwise it adds texts to explain.
            explained: list[str] | list[Path] = items + ([] if faithfulness else from_file)
            checked = from_file if faithfulness else []
        else:
            explained, checked = image_paths(items, file), []
        report = engine.explain(
            model,
            explained,
            method=method,
            target=target,
            faithfulness=faithfulness,
            check_inputs=checked,
            n=n,
            deleted=deleted,
            overlay=out,
        )
    if report.texts:
        _print_texts(report, top_k, as_json)
    if report.images:
        _print_images(report, as_json)
    _print_checks(report)
    if html is not None:
        console.print(f"report: {save_html(html, report.html())}")
