"""The terminal tables of ``neuroplast train --profile``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from neuroplast.training.profiler import OperatorRow, ProfileSummary

__all__ = ["print_profile"]


def _table(title: str, rows: list[OperatorRow]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("operator", "calls", "self CPU ms", "CPU total ms", "self CPU memory"):
        table.add_column(column, justify="left" if column == "operator" else "right")
    for row in rows:
        table.add_row(
            row.name,
            str(row.calls),
            f"{row.self_cpu_ms:.2f}",
            f"{row.cpu_total_ms:.2f}",
            _bytes(row.self_cpu_memory_bytes),
        )
    return table


def _bytes(value: int) -> str:
    size = float(value)
    for unit in ("B", "KiB", "MiB"):
        if abs(size) < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def print_profile(console: Console, summary: ProfileSummary) -> None:
    """Top operators by self CPU time, then by memory, then where the trace is."""
    console.print(
        _table(f"profile of {summary.steps} training steps: top operators by time", summary.by_time)
    )
    console.print(_table("top operators by memory allocated", summary.by_memory))
    console.print(f"peak allocated by torch on the CPU: {_bytes(summary.peak_allocated_bytes)}")
    console.print(f"trace (open in https://ui.perfetto.dev): {summary.trace}", markup=False)
