"""``neuroplast bench``: the Predictor against eager PyTorch on the model's test inputs."""

from __future__ import annotations

import typer
from rich.table import Table

from neuroplast.cli._common import HomeOption, console, setup_logging


def bench(
    model: str = typer.Argument(..., help="Model name (newest version), NAME:VERSION or id."),
    backend: str = typer.Option(
        "auto", "--backend", help="auto | torch | torch-int8 | onnx | onnx-int8."
    ),
    inputs: int = typer.Option(640, "--inputs", min=64, help="Test inputs to time on."),
    repeats: int = typer.Option(5, "--repeats", min=1, help="Interleaved repeats (median)."),
    threads: int | None = typer.Option(
        None, "--threads", min=1, help="torch and ONNX Runtime threads (default: physical cores)."
    ),
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Batch-1 latency and batch-64 throughput: eager fp32 on ready tensors vs the Predictor
    on raw inputs (tokenization included), measured in one run."""
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

    if threads:
        torch.set_num_threads(threads)
    with Registry(home) as registry, console.status(f"benchmarking {model}..."):
        predictor = registered_predictor(registry, model, backend=backend, threads=threads)
        loaded = predictor.loaded if hasattr(predictor, "loaded") else None
        if loaded is None:
            from neuroplast.workflows.report import load_registered

            _, loaded = load_registered(registry, model)
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
    if predictor.timings:
        auto = Table(title="backend auto: measured on the model's validation inputs")
        for name in ("backend", "batch-1 ms", "whole sample ms", "agrees with fp32", "chosen"):
            auto.add_column(name, justify="left" if name == "backend" else "right")
        for t in predictor.timings:
            auto.add_row(
                t.backend,
                f"{t.batch1_ms:.3f}",
                f"{t.batch_ms:.1f}",
                f"{t.agreement:.1%}",
                "yes" if t.chosen else "",
            )
        console.print(auto)
    title = f"{model}: eager fp32 vs Predictor ({result.backend}) on {len(test)} test inputs"
    table = Table(title=title)
    for name in ("measure", "eager fp32", "Predictor", "speed-up"):
        table.add_column(name, justify="left" if name == "measure" else "right")
    table.add_row(
        "batch-1 latency p50 (ms)",
        f"{result.eager_batch1_ms:.3f}",
        f"{result.predictor_batch1_ms:.3f}",
        f"{result.batch1_speedup:.2f}x",
    )
    table.add_row(
        f"batch-{result.batch_size} throughput (/s)",
        f"{result.eager_batch_per_s:.0f}",
        f"{result.predictor_batch_per_s:.0f}",
        f"{result.batch_speedup:.2f}x",
    )
    console.print(table)
    achieved = flops * result.predictor_batch_per_s / 1e9
    console.print(
        f"forward {flops / 1e6:.1f} MFLOP per sample; fp32 matmul peak {peak:.1f} GFLOP/s "
        f"({torch.get_num_threads()} threads); the Predictor at batch {result.batch_size} "
        f"achieves {achieved:.2f} GFLOP/s = {achieved / peak:.1%} of it"
    )
