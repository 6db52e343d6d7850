"""``neuroplast bench``: the Predictor against eager PyTorch on the model's test inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from neuroplast.cli._common import (
    MODEL_HELP,
    HomeOption,
    JsonOption,
    console,
    print_json,
    setup_logging,
    status,
)
from neuroplast.cli._compress_table import print_warnings
from neuroplast.inference import backends_help

if TYPE_CHECKING:
    from neuroplast.compression.bench import BenchReport
    from neuroplast.inference.choice import ChoiceTable


def bench(
    model: str = typer.Argument(..., help=MODEL_HELP),
    backend: str = typer.Option("auto", "--backend", help=f"{backends_help()}."),
    inputs: int = typer.Option(640, "--inputs", min=64, help="Test inputs to time on."),
    repeats: int = typer.Option(5, "--repeats", min=1, help="Interleaved repeats (median)."),
    threads: int | None = typer.Option(
        None, "--threads", min=1, help="torch and ONNX Runtime threads (default: physical cores)."
    ),
    max_batch: int = typer.Option(
        64, "--max-batch", min=1, help="auto: the largest batch it measures (and runs) at."
    ),
    remeasure: bool = typer.Option(
        False, "--remeasure", help="auto: measure again instead of reading this machine's cache."
    ),
    json_output: JsonOption = False,
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Batch-1 latency and batch-64 throughput: eager fp32 on ready tensors vs the Predictor
    on raw inputs (tokenization included), measured in one run.

    Each speed is the median of --repeats interleaved repeats after a warm-up, ± half their
    interquartile range. With --backend auto (the default) the Predictor runs each batch on
    the backend and thread count that measured fastest at its size (1, 8, 32, 64 and
    --max-batch) among those agreeing with fp32; that table is printed first. It is cached
    per machine under the home's cache/auto folder; --remeasure measures it again.

    With --json, stdout holds one JSON object: command ("bench"), model (the measured ref),
    backend (the Predictor's backend), cpu, inputs, repeats, torch_threads, rows, auto,
    flops_per_sample, matmul_gflops, achieved_gflops, achieved_fraction and warnings (a
    list of strings). Each row: measure, batch_size, unit ("ms" per input, or "/s" inputs
    per second), eager and predictor (each with median, q1, q3, spread, repeats, unit),
    speedup and faster (beyond the spread). auto is null for a named backend, else: source
    ("measured" or "cache"), measured_at, min_agreement, fingerprint (cpu, machine,
    torch_threads, onnx_threads, versions, model_uid, sizes), summary, choices (one per
    batch size: batch_size, backend, threads, ms_per_input, spread_ms, agreement, eager_ms,
    speedup) and measured (every backend and thread count at every size: backend, threads,
    batch_size, ms_per_input, spread_ms, agreement, repeats).
    """
    setup_logging(verbose)
    from neuroplast.engine import Engine

    with Engine(home) as engine, status(json_output, f"benchmarking {model}..."):
        report = engine.bench(
            model,
            backend=backend,
            inputs=inputs,
            repeats=repeats,
            threads=threads,
            max_batch=max_batch,
            remeasure=remeasure,
        )
    if json_output:
        print_json(report.to_dict())
        return
    print_report(model, report)


def print_report(model: str, report: BenchReport) -> None:
    """The auto table (when auto ran), the speed table and the FLOP/s line."""
    result, choices = report.speed, report.choices
    if choices is not None:
        print_choice_table(choices)
    title = f"{model}: eager fp32 vs Predictor ({result.backend}) on {report.inputs} test inputs"
    if choices is not None:
        title += f", on {report.cpu}"
    table = Table(title=title)
    for name in ("measure", "eager fp32", "Predictor", "speed-up"):
        table.add_column(name, justify="left" if name == "measure" else "right")
    table.add_row(
        "batch-1 latency (ms/input)",
        f"{result.eager_batch1.median:.3f} ± {result.eager_batch1.spread:.3f}",
        f"{result.predictor_batch1.median:.3f} ± {result.predictor_batch1.spread:.3f}",
        f"{result.batch1_speedup:.2f}x",
    )
    table.add_row(
        f"batch-{result.batch_size} throughput (/s)",
        f"{result.eager_batch.median:.0f} ± {result.eager_batch.spread:.0f}",
        f"{result.predictor_batch.median:.0f} ± {result.predictor_batch.spread:.0f}",
        f"{result.batch_speedup:.2f}x",
    )
    console.print(table)
    console.print(
        f"median of {result.repeats} interleaved repeats ± half their interquartile range",
        soft_wrap=True,
    )
    console.print(
        f"forward {report.flops_per_sample / 1e6:.1f} MFLOP per sample; fp32 matmul peak "
        f"{report.matmul_gflops:.1f} GFLOP/s ({report.torch_threads} threads); the Predictor "
        f"at batch {result.batch_size} achieves {report.achieved_gflops:.2f} GFLOP/s = "
        f"{report.achieved_fraction:.1%} of it"
    )
    print_warnings(console, result.warnings(), [])


def print_choice_table(table: ChoiceTable) -> None:
    """What backend auto runs at each batch size, and what it measured there."""
    where = "this machine's cache" if table.source == "cache" else "this run"
    title = (
        f"backend auto, per batch size (measured {table.measured_at}, from {where}; "
        "eager fp32 on all torch threads for comparison)"
    )
    out = Table(title=title)
    columns = ("batch", "runs on", "threads", "ms/input", "agrees with fp32", "eager ms/input")
    for name in (*columns, "speed-up"):
        out.add_column(name, justify="left" if name == "runs on" else "right")
    for c in table.choices:
        out.add_row(
            f"<= {c.batch_size}",
            c.backend,
            str(c.threads),
            f"{c.ms_per_input:.3f} ± {c.spread_ms:.3f}",
            f"{c.agreement:.1%}",
            f"{c.eager_ms:.3f}",
            f"{c.speedup:.2f}x",
        )
    console.print(out)
