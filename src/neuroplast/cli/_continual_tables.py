"""The tables and JSON rows of ``neuroplast continual``: the accuracy matrix, the metrics of
each strategy, and the reproduction of a published table beside it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from neuroplast.continual.reproduce import ReproduceResult
    from neuroplast.continual.runner import StrategySummary

__all__ = ["cells", "matrix_table", "metrics_table", "reproduction_table", "summary_json"]


def _pct(value: float | None, std: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}" + ("" if std is None else f" ± {100 * std:.1f}")


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}"


def matrix_table(matrix: list[list[float]], title: str) -> Table:
    table = Table(title=title)
    table.add_column("after task", justify="right")
    for j in range(len(matrix)):
        table.add_column(f"task {j + 1}", justify="right")
    for i, row in enumerate(matrix):
        table.add_row(str(i + 1), *[f"{100 * v:.1f}" for v in row])
    return table


def metrics_table(summaries: list[StrategySummary], title: str) -> Table:
    table = Table(title=title)
    for name in ("strategy", "ACC %", "BWT", "FWT", "forgetting", "train s", "buffer/state"):
        table.add_column(name, justify="left" if name == "strategy" else "right")
    for s in summaries:
        table.add_row(
            s.strategy,
            _pct(s.mean("acc"), s.std("acc")),
            _signed(s.mean("bwt")),
            _signed(s.mean("fwt")),
            _pct(s.mean("forgetting")),
            f"{s.seconds:.1f}",
            f"{s.memory_bytes / 1e6:.1f} MB" if s.memory_bytes else "0",
        )
    return table


def summary_json(s: StrategySummary) -> dict[str, object]:
    return {
        "strategy": s.strategy,
        "seeds": [r.seed for r in s.runs],
        **{key: s.mean(key) for key in ("acc", "bwt", "fwt", "forgetting")},
        "acc_std": s.std("acc"),
        "train_seconds": s.seconds,
        "memory_bytes": s.memory_bytes,
        "matrix": s.mean_matrix(),
    }


def cells(result: ReproduceResult) -> list[dict[str, object]]:
    """Ours (mean, std in %) beside the published value, per strategy and scenario."""
    from neuroplast.continual.reproduce import PUBLISHED, SCENARIOS

    cells: list[dict[str, object]] = []
    for strategy, published in PUBLISHED.items():
        for scenario in SCENARIOS:
            ours = result.ours(strategy, scenario)
            cells.append(
                {
                    "strategy": strategy,
                    "scenario": scenario,
                    "mean": None if ours is None else ours[0],
                    "std": None if ours is None else ours[1],
                    "published": published[scenario],
                    "diagonal": result.diagonal(strategy, scenario),
                    "unlearned": result.unlearned(strategy, scenario),
                }
            )
    return cells


def reproduction_table(result: ReproduceResult) -> tuple[Table, list[str]]:
    """The table, and the cells more than 5 points from the published value."""
    from neuroplast.continual.reproduce import PUBLISHED, SCENARIOS

    table = Table(
        title=f"split MNIST, average accuracy % after 5 tasks (ours: mean ± sd of seeds "
        f"{', '.join(map(str, result.seeds))}; published: van de Ven & Tolias 2019, Table 4)"
    )
    table.add_column("strategy")
    for scenario in SCENARIOS:
        table.add_column(f"{scenario}-IL ours", justify="right")
        table.add_column("published", justify="right")
    far: list[str] = []
    for strategy, published in PUBLISHED.items():
        row = [strategy]
        for scenario in SCENARIOS:
            ours = result.ours(strategy, scenario)
            paper = published[scenario]
            if ours is None:
                row += ["-", "-" if paper is None else f"{paper:.1f}"]
                continue
            mean, std = ours
            row += [f"{mean:.1f}" + ("" if std is None else f" ± {std:.1f}"), f"{paper:.1f}"]
            if paper is not None and abs(mean - paper) > 5:
                far.append(f"{strategy} {scenario}-IL: {mean:.1f} vs {paper:.1f}")
        table.add_row(*row)
    return table, far
