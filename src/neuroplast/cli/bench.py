"""``neuroplast bench``: the Predictor against eager PyTorch on the model's test inputs."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import typer
from rich.table import Table

from neuroplast.cli._common import MODEL_HELP, HomeOption, console, print_json, setup_logging
from neuroplast.cli._compress_table import print_warnings


def bench(
    model: str = typer.Argument(..., help=MODEL_HELP),
    backend: str = typer.Option(
        "auto", "--backend", help="auto | torch | torch-int8 | onnx | onnx-int8."
    ),
    inputs: int = typer.Option(640, "--inputs", min=64, help="Test inputs to time on."),
    repeats: int = typer.Option(5, "--repeats", min=1, help="Interleaved repeats (median)."),
    threads: int | None = typer.Option(
        None, "--threads", min=1, help="torch and ONNX Runtime threads (default: physical cores)."
    ),
    json_output: bool = typer.Option(
        False, "--json", help="Print one JSON document (shape described above) instead of tables."
    ),
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Batch-1 latency and batch-64 throughput: eager fp32 on ready tensors vs the Predictor
    on raw inputs (tokenization included), measured in one run.

    Each speed is the median of --repeats interleaved repeats after a warm-up, ± half their
    interquartile range.

    With --json, stdout holds one JSON object: command ("bench"), model (the measured ref),
    backend (the Predictor's backend), inputs, repeats, torch_threads, rows, auto,
    flops_per_sample, matmul_gflops, achieved_gflops, achieved_fraction and warnings (a
    list of strings). Each row: measure, batch_size, unit ("ms" per input, or "/s" inputs
    per second), eager and predictor (each with median, q1, q3, spread, repeats, unit),
    speedup and faster (beyond the spread). auto lists what backend auto measured (empty
    for a named backend): backend, batch1_ms, batch1_spread_ms, batch_ms, batch_spread_ms,
    batch_size, agreement, chosen.
    """
    setup_logging(verbose)
    import torch

    from neuroplast.compression._data import model_data, split_inputs
    from neuroplast.compression.bench import (
        eager_tensors,
        flops_per_sample,
        matmul_gflops,
        speed_compare,
    )
    from neuroplast.compression.predictors import registered_predictor
    from neuroplast.registry import Registry
    from neuroplast.workflows.report import load_registered

    if threads:
        torch.set_num_threads(threads)
    status = nullcontext() if json_output else console.status(f"benchmarking {model}...")
    with Registry(home) as registry, status:
        version, loaded = load_registered(registry, model)
        predictor = registered_predictor(
            registry, model, backend=backend, threads=threads, preloaded=(version, loaded)
        )
        loaded = getattr(predictor, "loaded", None) or loaded
        data = model_data(loaded.meta, loaded.vocab)
        test = split_inputs(data, "test", limit=inputs)
        result = speed_compare(loaded, predictor, test.inputs, repeats=repeats)
        sample = eager_tensors(loaded, test.inputs[:64])
        width = max(t.shape[-1] for t in sample)
        if sample[0].dtype == torch.long:
            batch = torch.zeros((len(sample), width), dtype=torch.long)
            for i, t in enumerate(sample):
                batch[i, : t.size(1)] = t[0]
        else:
            batch = torch.cat(sample)
        flops = flops_per_sample(loaded.model, batch)
        peak = matmul_gflops()
    achieved = flops * result.predictor_batch.median / 1e9
    if json_output:
        document: dict[str, Any] = {
            "command": "bench",
            "model": version.ref,
            "backend": result.backend,
            "inputs": len(test),
            "repeats": result.repeats,
            "torch_threads": torch.get_num_threads(),
            "rows": result.rows(),
            "auto": [dict(vars(t)) for t in predictor.timings],
            "flops_per_sample": flops,
            "matmul_gflops": peak,
            "achieved_gflops": achieved,
            "achieved_fraction": achieved / peak,
            "warnings": result.warnings(),
        }
        print_json(document)
        return
    if predictor.timings:
        auto = Table(title="backend auto: measured on the model's validation inputs")
        columns = ("backend", "batch-1 ms/input", "whole sample ms", "agrees with fp32", "chosen")
        for name in columns:
            auto.add_column(name, justify="left" if name == "backend" else "right")
        for t in predictor.timings:
            auto.add_row(
                t.backend,
                f"{t.batch1_ms:.3f} ± {t.batch1_spread_ms:.3f}",
                f"{t.batch_ms:.1f} ± {t.batch_spread_ms:.1f}",
                f"{t.agreement:.1%}",
                "yes" if t.chosen else "",
            )
        console.print(auto)
    title = f"{model}: eager fp32 vs Predictor ({result.backend}) on {len(test)} test inputs"
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
        f"forward {flops / 1e6:.1f} MFLOP per sample; fp32 matmul peak {peak:.1f} GFLOP/s "
        f"({torch.get_num_threads()} threads); the Predictor at batch {result.batch_size} "
        f"achieves {achieved:.2f} GFLOP/s = {achieved / peak:.1%} of it"
    )
    print_warnings(console, result.warnings(), [])
