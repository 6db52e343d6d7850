"""Helpers shared by the benchmarks: machine facts, summary statistics, tables and JSON."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

# Wide enough for the tables when the output is a file or a pipe (rich assumes 80 there).
console = Console(width=None if Console().is_terminal else 132)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what ``platform`` knows elsewhere)."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return platform.processor() or "unknown"
    for line in lines:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def environment() -> dict[str, Any]:
    """What a reader needs to judge the timings: versions, threads, CPU and load."""
    import lightning_fabric

    import neuroplast

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning_fabric": lightning_fabric.__version__,
        "neuroplast": neuroplast.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "load_average_1_5_15": [round(x, 2) for x in load],
    }


def print_environment(env: dict[str, Any]) -> None:
    for key, value in env.items():
        console.print(f"[bold]{key:<20}[/bold] {value}")
    load, cpus = env["load_average_1_5_15"][0], env["logical_cpus"] or 1
    if load > 0.5 * cpus:
        console.print(
            f"[yellow]warning: the machine is busy (1-minute load {load} on {cpus} CPUs); "
            "other work competes for the cores and the timings are not reliable[/yellow]"
        )


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, minimum and maximum of ``values``."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A rich table; every column but the first is right-aligned (they hold numbers)."""
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    console.print(f"results written to {path}")
