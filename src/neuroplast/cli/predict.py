"""``neuroplast predict``: labels and probabilities for texts or images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from neuroplast.cli._common import MODEL_HELP, HomeOption, console, setup_logging
from neuroplast.cli._inputs import image_paths, texts_from_file
from neuroplast.errors import DataError
from neuroplast.inference import backends_help

if TYPE_CHECKING:
    from neuroplast.inference import Prediction


def predict(
    model: str = typer.Argument(..., help=MODEL_HELP),
    inputs: list[str] = typer.Argument(None, help="Texts, or image files for image models."),
    file: Path | None = typer.Option(
        None, "--file", "-f", help="CSV / JSONL / Parquet (text column) or .txt (one per line)."
    ),
    text_column: str = typer.Option("text", "--text-column", help="Column of --file to read."),
    top_k: int = typer.Option(1, "--top-k", "-k", help="Show the k most likely labels."),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="One JSON object per line, per input: {input, label, probability, top_k: "
        "[{label, probability}]}.",
    ),
    backend: str = typer.Option("torch", "--backend", help=f"{backends_help()}."),
    horizon: int | None = typer.Option(
        None, "--horizon", min=1, help="Forecasting models: points to forecast."
    ),
    plot: Path | None = typer.Option(
        None, "--plot", help="Forecasting models: where the PNG goes (default under the home)."
    ),
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Predict the label of each input with a registered model.

    Anomaly models score the rows of --file (or a series' windows, or image files): score
    and is_anomaly per input. Forecasting models forecast --horizon points with intervals
    and a plot. --json prints the task's document then.
    """
    setup_logging(verbose)
    from neuroplast.engine import Engine
    from neuroplast.tasks import is_task_module_task, task_handler

    with Engine(home) as engine:
        task = engine.registry.resolve(model).task
        if is_task_module_task(task):  # anomaly detection, forecasting, generation
            given: dict[str, Any] = {"file": file, "horizon": horizon, "plot": plot}
            options = {k: v for k, v in given.items() if v is not None}
            options.update({"images": list(inputs)} if inputs else {})
            options.update({"backend": backend} if backend != "torch" else {})
            done = task_handler(task).predict(engine.registry, model, **options)
            if as_json:
                typer.echo(json.dumps(done.document, ensure_ascii=False, default=str))
            for line in [] if as_json else done.lines:
                console.print(line, markup=False, highlight=False)
            return
    items = list(inputs or [])
    with Engine(home) as engine:
        if engine.registry.resolve(model).modality == "text":
            if file is not None:
                items += texts_from_file(file, text_column)
            if not items:
                raise DataError("nothing to predict: give texts as arguments or --file FILE")
        else:
            items = [str(p) for p in image_paths(items, file)]
            if not items:
                raise DataError("nothing to predict: give image files as arguments or --file DIR")
        predictions = engine.predict(model, items, top_k=top_k, backend=backend)
    if as_json:
        for item, p in zip(items, predictions, strict=True):
            row = {
                "input": item,
                "label": p.label,
                "probability": round(p.probability, 6),
                "top_k": [{"label": lbl, "probability": round(pr, 6)} for lbl, pr in p.top_k],
            }
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    _print_table(model, items, predictions, top_k)


def _print_table(model: str, items: list[str], predictions: list[Prediction], top_k: int) -> None:
    table = Table(title=f"Predictions of {model}")
    table.add_column("input", overflow="fold", max_width=60)
    table.add_column("label")
    table.add_column("probability", justify="right")
    if top_k > 1:
        table.add_column(f"top {top_k}")
    for item, p in zip(items, predictions, strict=True):
        cells = [item if len(item) <= 120 else item[:117] + "...", p.label, f"{p.probability:.4f}"]
        if top_k > 1:
            cells.append(", ".join(f"{lbl} {pr:.3f}" for lbl, pr in p.top_k))
        table.add_row(*cells)
    console.print(table)
