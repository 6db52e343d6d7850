"""``neuroplast export-onnx``: a registered model to ONNX (+ ONNX Runtime int8) as a new
version, and a torch-free serving folder. ``neuroplast export`` is its former name (kept, not
listed in the help); a tar bundle of a version to move it between registries is
``neuroplast models export-bundle``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from neuroplast.cli._common import (
    MODEL_HELP,
    HomeOption,
    JsonOption,
    console,
    print_json,
    print_task_result,
    setup_logging,
    status,
)
from neuroplast.cli._compress_table import NameWatch, print_compression_table, print_warnings
from neuroplast.tasks import TaskResult

if TYPE_CHECKING:
    from neuroplast.compression.export import ExportOutcome


OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Also write a torch-free serving folder here: a new path or an existing folder "
        "(checked before anything is registered).",
    ),
]

ForceOption = Annotated[
    bool,
    typer.Option("--force", help="Replace the files of an earlier export in the --output folder."),
]

MeasureOption = Annotated[
    bool,
    typer.Option("--measure/--no-measure", help="Measure the table on the model's test split."),
]

IfBetterOption = Annotated[
    bool,
    typer.Option(
        "--if-better",
        help="Register (and write -o) only when an ONNX model is smaller (by 1 % or more) or "
        "faster (beyond the measured spread, at batch 1 or 64) than MODEL in eager torch and "
        "loses at most --max-accuracy-drop.",
    ),
]

MaxAccuracyDropOption = Annotated[
    float,
    typer.Option(
        "--max-accuracy-drop",
        min=0.0,
        max=1.0,
        help="Test accuracy an ONNX model may lose and still count as better (0.01 = one point).",
    ),
]


def export_onnx(
    model: str = typer.Argument(..., help=MODEL_HELP),
    fmt: str = typer.Option("onnx", "--format", help="Export format (onnx)."),
    int8: bool = typer.Option(False, "--int8", help="Also write an ONNX Runtime int8 model."),
    output: OutputOption = None,
    force: ForceOption = False,
    measure: MeasureOption = True,
    if_better: IfBetterOption = False,
    max_accuracy_drop: MaxAccuracyDropOption = 0.01,
    json_output: JsonOption = False,
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Export to ONNX (opset 17, dynamic batch and sequence length) as a new registry version.

    A warning follows any ONNX model that is not faster than MODEL in eager torch at any
    measured batch size, or that loses more accuracy than --max-accuracy-drop, and a table
    whose timings vary by more than 25 % between repeats (a busy machine).

    With --json, stdout holds one JSON object: command ("export"), parent (a ref), version
    (the new ref, or null when --if-better registered nothing), format, int8, if_better,
    max_accuracy_drop, files (the ONNX files of the version), output (the serving folder or
    null), rows (one object per table row, eager torch first; empty with --no-measure),
    warnings and notes (lists of strings). Row keys: technique, backend, size_mb,
    size_ratio, latency_p50_ms, latency_q1_ms, latency_q3_ms, latency_spread_ms,
    latency_speedup, throughput_per_s, throughput_q1_per_s, throughput_q3_per_s,
    throughput_spread_per_s, throughput_speedup, batch_size, repeats, accuracy,
    accuracy_change, f1_macro, f1_change, samples, status ("parent", "registered" or "not
    registered"), version (a NAME:VERSION ref or null) and reason (why it was not
    registered, or null). Latency is ms per input at batch 1, throughput inputs per second
    at batch_size: medians of interleaved repeats, q1 / q3 their quartiles, spread half the
    interquartile range.
    """
    setup_logging(verbose)
    from neuroplast.engine import Engine

    with Engine(home) as engine, status(json_output, f"exporting {model}..."):
        watch = NameWatch(engine.registry, model)
        outcome = engine.export_onnx(
            model,
            int8=int8,
            output=output,
            force=force,
            measure=measure,
            if_better=if_better,
            max_accuracy_drop=max_accuracy_drop,
            fmt=fmt,
        )
        watch.check()
    _print_outcome(outcome, watch, json_output)


def _print_outcome(
    outcome: ExportOutcome | TaskResult, watch: NameWatch, json_output: bool
) -> None:
    if isinstance(outcome, TaskResult):  # anomaly detection, forecasting, generation
        print_task_result(outcome, json_output)
        return
    if json_output:
        print_json(watch.document(outcome.to_dict()))
        return
    v = outcome.version
    document = outcome.to_dict()
    if outcome.table:
        target = v.ref if v is not None else "not registered"
        title = f"{outcome.parent.ref} -> {target} (ONNX)"
        print_compression_table(console, title, document["rows"])
    print_warnings(console, outcome.warnings, watch.notes(outcome.notes))
    if v is None:
        console.print(f"nothing registered: no ONNX model is better than {outcome.parent.ref}")
        return
    files = ", ".join(document["files"])
    console.print(f"registered {v.ref} (id {v.uid}, parent {outcome.parent.ref}): {files}")
    if outcome.output is not None:
        console.print(f"serving folder: {outcome.output}")
