"""Domain-IL Split MNIST at the reproduction's protocol (``continual reproduce split-mnist``:
MLP 2x400, Adam 1e-3, batch 128, 5 epochs a task, i.e. ~35 steps): SI's c and replay.

Two open points of issue 17: the plasticity check flagged domain-IL SI at the reproduction's
c = 10,000 (tasks 3-5 learned to 68 / 80 / 54 %), and replay's weighting changed (a task
that repeats earlier classes, as every domain-IL task does, now gets the current share 1/t
instead of 1) without a domain-IL measurement. One line per (cell, seed)::

    /tmp/s4/heavy .venv/bin/python benchmarks/continual/domain_il_checks.py \\
        --out benchmarks/continual/domain_il_checks.jsonl --seeds 100
    .venv/bin/python benchmarks/continual/domain_il_checks.py --table \\
        --out benchmarks/continual/domain_il_checks.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import torch

from neuroplast.continual.metrics import unlearned_tasks
from neuroplast.continual.reproduce import PROTOCOLS
from neuroplast.continual.runner import run_strategy
from neuroplast.continual.sources import make_stream

CELLS: dict[str, tuple[list[str], dict[str, Any]]] = {
    "naive": (["naive"], {}),
    **{f"si-c-{c:g}": (["si"], {"si": {"c": c}}) for c in (100.0, 1e3, 3e3, 1e4)},
    "replay-1000": (["replay"], {"replay": {"buffer_size": 1000}}),
    "replay-200": (["replay"], {"replay": {"buffer_size": 200}}),
}


def run(out: Path, seeds: list[int], cells: list[str]) -> None:
    torch.set_num_threads(1)
    base = PROTOCOLS["split-mnist"]("domain", [0], 5)
    stream = make_stream(base.stream)
    for seed in seeds:
        for cell in cells:
            names, options = CELLS[cell]
            merged = {**base.options.model_dump(by_alias=True), **options}
            cfg = base.model_copy(update={"options": type(base.options).model_validate(merged)})
            result = run_strategy(stream, cfg, names, seed=seed)
            m = result.metrics
            row = {
                "cell": cell,
                "seed": seed,
                "acc": m.acc,
                "bwt": m.bwt,
                "matrix": m.matrix,
                "unlearned": unlearned_tasks(m.matrix, stream),
            }
            with out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(cell, seed, f"{100 * m.acc:.1f}", row["unlearned"], flush=True)


def table(out: Path) -> str:
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    lines = [
        "| cell | seeds | ACC % | BWT % | R diagonal % | tasks not learned |",
        "|---|---|---|---|---|---|",
    ]
    for seeds in sorted(
        {tuple(sorted({r["seed"] for r in rows if r["cell"] == c})) for c in CELLS} - {()}
    ):
        for cell in CELLS:
            runs = [r for r in rows if r["cell"] == cell and r["seed"] in seeds]
            if tuple(sorted({r["seed"] for r in runs})) != seeds:
                continue
            accs = [100 * r["acc"] for r in runs]
            bwts = [100 * r["bwt"] for r in runs]
            sd = f" ± {statistics.stdev(accs):.1f}" if len(accs) > 1 else ""
            size = len(runs[0]["matrix"])
            diag = [statistics.fmean(r["matrix"][i][i] for r in runs) for i in range(size)]
            missed = sorted({t for r in runs for t in r["unlearned"]})
            lines.append(
                f"| {cell} | {','.join(map(str, seeds))} | {statistics.fmean(accs):.1f}{sd} | "
                f"{statistics.fmean(bwts):.1f} | "
                + " / ".join(f"{100 * d:.0f}" for d in diag)
                + f" | {', '.join(map(str, missed)) or '-'} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("domain_il_checks.jsonl"))
    parser.add_argument("--seeds", default="100")
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--table", action="store_true")
    args = parser.parse_args()
    if args.table:
        print(table(args.out))
    else:
        run(args.out, [int(s) for s in args.seeds.split(",")], args.cells.split(","))


if __name__ == "__main__":
    main()
