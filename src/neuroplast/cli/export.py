"""``neuroplast export``: a registered model to ONNX (+ ONNX Runtime int8) as a new version."""

from __future__ import annotations

from pathlib import Path

import typer

from neuroplast.cli._common import HomeOption, console, setup_logging
from neuroplast.cli._compress_table import print_compression_table


def export(
    model: str = typer.Argument(..., help="Model name (newest version), NAME:VERSION or id."),
    fmt: str = typer.Option("onnx", "--format", help="Export format (onnx)."),
    int8: bool = typer.Option(False, "--int8", help="Also write an ONNX Runtime int8 model."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Also write a torch-free serving folder here."
    ),
    measure: bool = typer.Option(
        True, "--measure/--no-measure", help="Measure the table on the model's test split."
    ),
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Export to ONNX (opset 17, dynamic batch and sequence length) as a new registry version."""
    setup_logging(verbose)
    from neuroplast.compression.export import export_version
    from neuroplast.registry import Registry

    with Registry(home) as registry, console.status(f"exporting {model}..."):
        outcome = export_version(
            registry, model, int8=int8, output=output, measure=measure, fmt=fmt
        )
    v = outcome.version
    if outcome.table:
        print_compression_table(console, f"{outcome.parent.ref} -> {v.ref} (ONNX)", outcome.table)
    if outcome.note:
        console.print(outcome.note)
    files = ", ".join(sorted(n for n in v.artifacts if n.endswith(".onnx")))
    console.print(f"registered {v.ref} (id {v.uid}, parent {outcome.parent.ref}): {files}")
    if outcome.output is not None:
        console.print(f"serving folder: {outcome.output}")
