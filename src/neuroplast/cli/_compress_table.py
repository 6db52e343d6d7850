"""The compression comparison table, printed by compress, export and bench."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["print_compression_table"]


def print_compression_table(console: Console, title: str, rows: list[dict[str, Any]]) -> None:
    table = Table(title=title)
    for name in (
        "technique",
        "backend",
        "size MB",
        "batch-1 p50 ms",
        "speed-up",
        "batch-64 /s",
        "speed-up ",
        "accuracy",
        "change",
        "F1 macro",
        "change ",
    ):
        table.add_column(name, justify="left" if name in ("technique", "backend") else "right")
    first = rows[0] if rows else {}
    for row in rows:
        size = f"{row['size_mb']:.2f}"
        if row is not first:
            size = f"{first['size_mb']:.2f} -> {size}"
        table.add_row(
            row["technique"],
            row["backend"],
            size,
            f"{row['latency_p50_ms']:.3f}",
            f"{row['latency_speedup']:.2f}x",
            f"{row['throughput_per_s']:.0f}",
            f"{row['throughput_speedup']:.2f}x",
            f"{row['accuracy']:.4f}",
            f"{row['accuracy_change'] * 100:+.2f} pt",
            f"{row['f1_macro']:.4f}",
            f"{row['f1_change'] * 100:+.2f} pt",
        )
    console.print(table)
    if rows:
        console.print(f"accuracy on {rows[0]['samples']} test inputs; latency p50 of single inputs")
