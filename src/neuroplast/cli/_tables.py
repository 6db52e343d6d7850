"""Rich tables shared by train and evaluate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from neuroplast.types import ModelMetrics

if TYPE_CHECKING:
    from neuroplast.evaluation import EvalResult


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def results_table(
    title: str, result: EvalResult, baseline: EvalResult | None, model_label: str
) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column(model_label, justify="right")
    if baseline is not None:
        table.add_column("TF-IDF + logistic regression", justify="right")
        table.add_column("difference", justify="right")
    for key, value in result.headline().items():
        row = [key, _fmt(value)]
        if baseline is not None:
            other = baseline.headline()[key]
            diff = None if value is None or other is None else value - other
            row += [_fmt(other), "-" if diff is None else f"{diff:+.4f}"]
        table.add_row(*row)
    table.add_row(
        "samples",
        str(result.samples),
        *([str(baseline.samples), ""] if baseline is not None else []),
    )
    return table


def per_class_table(result: EvalResult) -> Table:
    table = Table(title="Per class")
    for column in ("class", "precision", "recall", "f1", "support"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, values in result.per_class.items():
        table.add_row(
            name,
            _fmt(values["precision"], 3),
            _fmt(values["recall"], 3),
            _fmt(values["f1"], 3),
            str(int(values["support"])),
        )
    return table


def history_table(history: list[ModelMetrics]) -> Table:
    table = Table(title="Training")
    for column in ("epoch", "train loss", "val loss", "val acc", "lr", "samples/s", "seconds"):
        table.add_column(column, justify="right")
    for m in history:
        table.add_row(
            str(m.epoch),
            _fmt(m.train_loss),
            _fmt(m.val_loss),
            _fmt(m.val_accuracy),
            "-" if m.learning_rate is None else f"{m.learning_rate:.2e}",
            "-" if m.samples_per_sec is None else f"{m.samples_per_sec:,.0f}",
            _fmt(m.seconds, 1),
        )
    return table


def print_results(
    console: Console, title: str, result: EvalResult, baseline: EvalResult | None, label: str
) -> None:
    """The metrics next to the baseline, then per class (for up to 20 classes)."""
    console.print(results_table(title, result, baseline, label))
    if len(result.label_names) <= 20:
        console.print(per_class_table(result))
