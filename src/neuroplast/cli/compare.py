"""``neuroplast compare``: train each architecture on the same split, budget and seeds and
print the measured architecture table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

from neuroplast.cli._common import HomeOption, console, setup_logging
from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.comparison.table import Format

_FORMATS = ("markdown", "csv", "json")


def compare(
    config: Path = typer.Argument(..., help="Run config YAML: its data, budget and seed."),
    architectures: str = typer.Option(
        "cnn,lstm,transformer,hybrid",
        "--architectures",
        help="Comma-separated architectures (e.g. cnn,lstm,transformer,hybrid,minilm).",
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a config value: --set data.limit=2000 (repeatable)."
    ),
    seeds: int = typer.Option(
        3, "--seeds", min=1, help="Seeds per architecture (seed, seed+1...)."
    ),
    fmt: str = typer.Option("markdown", "--format", help="markdown | csv | json (stdout)."),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Folder for table.md/.csv/.json and the PNG (default: <home>/comparisons/NAME-TIME).",
    ),
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens."),
) -> None:
    """Train every architecture with the same data split, epochs and seeds; print parameters,
    train time and samples/s, Predictor batch-1 latency and batch-64 throughput, fp32 and int8
    size, accuracy, macro F1 and AUC (mean ± std over seeds) and a recommendation; store the
    table (Markdown, CSV, JSON) and a PNG of accuracy against latency."""
    setup_logging(verbose)
    if fmt not in _FORMATS:
        raise ConfigError(f"--format {fmt!r}: use one of {', '.join(_FORMATS)}")
    from neuroplast.comparison import Comparison, run_compare
    from neuroplast.config import load_run_config
    from neuroplast.engine import Engine

    run_config = load_run_config(config, set_)
    names = [a.strip() for a in architectures.split(",") if a.strip()]
    with Engine(home) as engine:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = output or engine.home / "comparisons" / f"{run_config.name}-{stamp}"
        measurements = run_compare(
            run_config,
            names,
            seeds,
            engine.registry,
            progress=lambda line: typer.echo(line, err=True),
        )
    data = run_config.data.dataset or str(run_config.data.path)
    result = Comparison(run_config.name, f"data: {data}", measurements)
    files = result.save(folder)
    typer.echo(result.render(cast("Format", fmt)))
    if fmt == "markdown":
        console.print(f"stored in {folder} ({', '.join(p.name for p in files.values())})")
