"""``neuroplast predict``: labels and probabilities for texts or images."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from neuroplast.cli._common import MODEL_HELP, HomeOption, console, setup_logging
from neuroplast.errors import DataError

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def _texts_from_file(path: Path, text_column: str) -> list[str]:
    if path.is_dir():
        raise DataError(
            f"input file {path} is a directory; pass a CSV / JSONL / Parquet / .txt file"
        )
    if not path.is_file():
        raise DataError(f"input file {path} not found")
    if path.suffix.lower() == ".txt":
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as e:
            raise DataError(
                f"{path} is not valid UTF-8 (byte {e.start}); re-encode it, e.g. "
                f"`iconv -f latin1 -t utf-8 {path}`"
            ) from e
        return [line for line in lines if line.strip()]
    from neuroplast.data.files import read_table

    frame = read_table(path)
    if text_column not in frame.columns:
        raise DataError(
            f"{path} has no column {text_column!r}; columns: {', '.join(map(str, frame.columns))}. "
            "Choose one with --text-column"
        )
    return [str(t) for t in frame[text_column].fillna("").tolist()]


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
    backend: str = typer.Option(
        "torch",
        "--backend",
        help="torch | torch-int8 | onnx | onnx-int8 | auto (measures them, keeps the fastest).",
    ),
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Predict the label of each input with a registered model."""
    setup_logging(verbose)
    from neuroplast.inference import load_image_files
    from neuroplast.inference.registered import registered_predictor
    from neuroplast.registry import Registry

    items = list(inputs or [])
    with Registry(home) as registry:
        predictor = registered_predictor(registry, model, backend=backend)
        if predictor.modality == "text":
            if file is not None:
                items += _texts_from_file(file, text_column)
            if not items:
                raise DataError("nothing to predict: give texts as arguments or --file FILE")
            predictions = predictor.predict(items, top_k=top_k)
        else:
            paths = [Path(p) for p in items]
            if file is not None:
                paths += (
                    sorted(p for p in file.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES)
                    if file.is_dir()
                    else [file]
                )
            if not paths:
                raise DataError("nothing to predict: give image files as arguments or --file DIR")
            c, h, _ = predictor.pre["image_shape"]
            images = load_image_files(paths, channels=int(c), size=int(h))
            items = [str(p) for p in paths]
            predictions = predictor.predict(images, top_k=top_k)
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
