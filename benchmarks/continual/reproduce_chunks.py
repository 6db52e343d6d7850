"""``neuroplast continual reproduce split-mnist --seeds 3``, run one (strategy, seed) at a
time so that it fits the shared machine's job slots and resumes where it stopped.

Each unit calls :func:`neuroplast.continual.reproduce.reproduce` with one strategy and one
seed (the command's protocol, strengths and budget: 5 epochs a task, 35 Adam steps of 128)
and appends one JSON line per scenario: ACC, BWT, the accuracy matrix and the tasks not
learned (R[t][t] below chance + half). ``--table`` prints the command's table (mean ± sd of
the seeds beside van de Ven & Tolias 2019, Table 4) with the R diagonal of each cell and
the plasticity check::

    .venv/bin/python benchmarks/continual/reproduce_chunks.py \\
        --out benchmarks/continual/reproduce_split_mnist.jsonl --minutes 10
    .venv/bin/python benchmarks/continual/reproduce_chunks.py \\
        --out benchmarks/continual/reproduce_split_mnist.jsonl --table \\
        --earlier benchmarks/continual/reproduce_issue17_cells.json

``--earlier`` fills the cells this file lacks from an earlier run's JSON (the LwF, EWC,
online EWC and SI cells redone after issue 17's fixes, whose code has not changed since).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from neuroplast.continual.reproduce import PUBLISHED, SCENARIOS, STRATEGIES, reproduce

SEEDS = (0, 1, 2)


def _rows(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def run(out: Path, minutes: float, strategies: list[str], epochs: int) -> None:
    torch.set_num_threads(1)
    started = time.perf_counter()
    done = {(r["strategy"], r["seed"]) for r in _rows(out)}
    for seed in SEEDS:
        for strategy in strategies:
            if (strategy, seed) in done:
                continue
            if time.perf_counter() - started > minutes * 60:
                print(f"stopping after {minutes} minutes; rerun to continue", flush=True)
                return
            result = reproduce("split-mnist", seeds=[seed], epochs=epochs, strategies=(strategy,))
            for scenario, summary in result.cells[strategy].items():
                m = summary.runs[0].metrics
                row = {
                    "strategy": strategy,
                    "scenario": scenario,
                    "seed": seed,
                    "epochs": epochs,
                    "steps_per_task": result.steps_per_task(),
                    "options": result.options(scenario),
                    "acc": m.acc,
                    "bwt": m.bwt,
                    "matrix": m.matrix,
                    "unlearned": result.unlearned(strategy, scenario),
                }
                with out.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(f"{scenario}-IL {strategy} seed {seed}: {100 * m.acc:.1f}", flush=True)


def table(out: Path, earlier: Path | None = None) -> str:
    """The cells run here; a cell with no row here is taken from ``earlier`` (a JSON of
    ``"strategy/scenario": {mean, std, diagonal, unlearned}`` over seeds 0-2, marked so)."""
    rows = _rows(out)
    kept = json.loads(earlier.read_text()) if earlier is not None else {}
    lines = [
        "| strategy | scenario | seeds | ours: ACC % | published | R diagonal % | "
        "tasks not learned |",
        "|---|---|---|---|---|---|---|",
    ]
    for strategy in STRATEGIES:
        for scenario in SCENARIOS:
            runs = [r for r in rows if r["strategy"] == strategy and r["scenario"] == scenario]
            if not runs and f"{strategy}/{scenario}" in kept:
                lines.append(_earlier_line(strategy, scenario, kept[f"{strategy}/{scenario}"]))
            if not runs:
                continue
            accs = [100 * r["acc"] for r in runs]
            sd = f" ± {statistics.stdev(accs):.1f}" if len(accs) > 1 else ""
            size = len(runs[0]["matrix"])
            diag = [statistics.fmean(r["matrix"][i][i] for r in runs) for i in range(size)]
            missed = sorted({t for r in runs for t in r["unlearned"]})
            lines.append(
                f"| {strategy} | {scenario}-IL | {','.join(str(r['seed']) for r in runs)} | "
                f"{statistics.fmean(accs):.1f}{sd} | {PUBLISHED[strategy][scenario]} | "
                + " / ".join(f"{100 * d:.0f}" for d in diag)
                + f" | {', '.join(map(str, missed)) or '-'} |"
            )
    return "\n".join(lines)


def _earlier_line(strategy: str, scenario: str, cell: dict[str, Any]) -> str:
    sd = "" if cell["std"] is None else f" ± {cell['std']:.1f}"
    return (
        f"| {strategy} | {scenario}-IL | 0,1,2 (earlier run) | {cell['mean']:.1f}{sd} | "
        f"{PUBLISHED[strategy][scenario]} | "
        + " / ".join(f"{d:.0f}" for d in cell["diagonal"])
        + f" | {', '.join(map(str, cell['unlearned'])) or '-'} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("reproduce_split_mnist.jsonl"))
    parser.add_argument("--minutes", type=float, default=10.0, help="start no unit after this")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--table", action="store_true", help="print the table and exit")
    parser.add_argument(
        "--earlier", type=Path, help="with --table: cells of an earlier run (JSON) for the rest"
    )
    args = parser.parse_args()
    if args.table:
        print(table(args.out, args.earlier))
    else:
        run(args.out, args.minutes, args.strategies.split(","), args.epochs)


if __name__ == "__main__":
    main()
