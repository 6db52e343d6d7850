"""The compression comparison table, printed by compress and export; and the outcome's
warnings and JSON document."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from neuroplast.registry import Registry

__all__ = ["NameWatch", "print_compression_table", "print_warnings"]

_STATUS = {"parent": "parent", "compared": "compared only"}


def _status(row: dict[str, Any]) -> str:
    status = str(row["status"])
    if status == "registered":
        return str(row["version"])
    if status == "not registered":
        return f"not registered: {row['reason']}"
    return _STATUS.get(status, status)


def _share(value: float | None, points: bool = False) -> str:
    """A share (``0.8123``) or a change in points (``+1.20 pt``); "not measured" for None."""
    if value is None:
        return "not measured"
    return f"{value * 100:+.2f} pt" if points else f"{value:.4f}"


def print_compression_table(console: Console, title: str, rows: list[dict[str, Any]]) -> None:
    """One row per variant; speeds as ``median ± spread`` (half the interquartile range of
    the repeats); a ``registered`` column when the rows carry a ``status``."""
    table = Table(title=title)
    columns = [
        "technique",
        "backend",
        "size MB",
        "batch-1 ms/input",
        "speed-up",
        "batch-N /s",
        "speed-up ",
        "accuracy",
        "change",
        "F1 macro",
        "change ",
    ]
    with_status = bool(rows) and "status" in rows[0]
    if rows:
        columns[5] = f"batch-{rows[0].get('batch_size', 64)} /s"
    if with_status:
        columns.append("registered")
    for name in columns:
        left = name in ("technique", "backend", "registered")
        table.add_column(name, justify="left" if left else "right")
    first = rows[0] if rows else {}
    for row in rows:
        size = f"{row['size_mb']:.2f}"
        if row is not first:
            size = f"{first['size_mb']:.2f} -> {size}"
        cells = [
            row["technique"],
            row["backend"],
            size,
            f"{row['latency_p50_ms']:.3f} ± {row.get('latency_spread_ms', 0.0):.3f}",
            f"{row['latency_speedup']:.2f}x",
            f"{row['throughput_per_s']:.0f} ± {row.get('throughput_spread_per_s', 0.0):.0f}",
            f"{row['throughput_speedup']:.2f}x",
            _share(row["accuracy"]),
            _share(row["accuracy_change"], points=True),
            _share(row["f1_macro"]),
            _share(row["f1_change"], points=True),
        ]
        if with_status:
            cells.append(_status(row))
        table.add_row(*cells)
    console.print(table)
    if rows:
        n = rows[0]["samples"]
        head = f"accuracy on {n} test inputs" if rows[0]["accuracy"] is not None else None
        console.print(
            f"{head or f'no accuracy: {n} unlabelled inputs'}; speeds: median of "
            f"{rows[0].get('repeats', '?')} interleaved repeats ± half their interquartile "
            "range; faster = beyond that spread",
            soft_wrap=True,
        )


def print_warnings(console: Console, warnings: list[str], notes: list[str]) -> None:
    for note in notes:
        console.print(note, markup=False, soft_wrap=True)
    for warning in warnings:
        console.print(f"warning: {warning}", style="yellow", markup=False, soft_wrap=True)


class NameWatch:
    """Tells the user when a new version changes what a bare model name means.

    A bare name means the production version, else the newest; so a compressed or exported
    version of a model with no production version becomes what ``name`` means.
    """

    def __init__(self, registry: Registry, model: str) -> None:
        self.registry = registry
        self.name = registry.resolve(model).model_name
        self.before = registry.resolve(self.name).ref
        self.now = self.before

    def check(self) -> None:
        """After the command: look up what the name means now."""
        self.now = self.registry.resolve(self.name).ref

    def notes(self, notes: list[str]) -> list[str]:
        """``notes`` plus the note telling the user the name moved, when it did."""
        if self.now == self.before:
            return list(notes)
        return [
            *notes,
            f"note: `{self.name}` now means {self.now} (its newest version: {self.name} has "
            f"no production version); to keep it on {self.before}, run "
            f"`neuroplast models promote {self.before}`",
        ]

    def document(self, document: dict[str, Any]) -> dict[str, Any]:
        """An outcome's ``--json`` document with ``name_now_means`` and the note added."""
        return {**document, "notes": self.notes(document["notes"]), "name_now_means": self.now}
