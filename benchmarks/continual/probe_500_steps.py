"""Why class-IL replay and iCaRL fall short at 500 steps a task: variants measured on the
protocol of ``study_500_steps.py`` (class-IL Split MNIST, MLP 2x400, Adam 1e-3, batch 128).

Each variant records, after every task, the accuracy on each task's test rows of the
argmax of the output layer (``logits``) and, for iCaRL, of its nearest mean of exemplars
(``nme``), and at the end the accuracy on the buffer's own rows (what the replayed rows
were fit to). One JSON line per (variant, seed)::

    /tmp/s4/heavy .venv/bin/python benchmarks/continual/probe_500_steps.py \\
        --out benchmarks/continual/probe_500_steps.jsonl --variants icarl-1000-t2,icarl-1000
    .venv/bin/python benchmarks/continual/probe_500_steps.py --table \\
        --out benchmarks/continual/probe_500_steps.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from neuroplast.continual.learner import ContinualLearner, apply_mask
from neuroplast.continual.metrics import compute_metrics
from neuroplast.continual.runner import build_model
from neuroplast.continual.sources import make_stream
from neuroplast.continual.strategies import create_plugins
from neuroplast.continual.strategies.replay import ICaRL, Replay
from neuroplast.models import logits_of

sys.path.insert(0, str(Path(__file__).parent))
from study_500_steps import config

# variant -> (strategies, options)
VARIANTS: dict[str, tuple[list[str], dict[str, Any]]] = {
    "replay-1000": (["replay"], {"replay": {"buffer_size": 1000}}),
    # every old training row fits (4 tasks x 800): the weighting and batch composition
    # alone, with no memory limit, against cumulative's retraining on every task so far
    "replay-3200": (["replay"], {"replay": {"buffer_size": 3200}}),
    "icarl-1000-t2": (["icarl"], {"icarl": {"buffer_size": 1000, "t_squared": True}}),
    "icarl-1000": (["icarl"], {"icarl": {"buffer_size": 1000}}),
    "icarl-1000-distil-0": (["icarl"], {"icarl": {"buffer_size": 1000, "distil_weight": 0.0}}),
    "icarl-1000-bce": (["icarl"], {"icarl": {"buffer_size": 1000, "loss": "bce"}}),
}


def _logit_accuracy(learner: ContinualLearner, through: int) -> list[float]:
    accs = []
    with torch.inference_mode():
        learner.inner.eval()
        for j, task in enumerate(learner.stream.tasks):
            mask = learner.stream.output_mask(j, through=through)
            pred = apply_mask(logits_of(learner.inner(task.x_test)), mask).argmax(1)
            accs.append(float((pred == task.y_test).float().mean()))
        learner.inner.train()
    return accs


def _ncm_all_accuracy(learner: ContinualLearner, through: int) -> list[float]:
    """Nearest class mean with every training row of the classes seen (not only the
    exemplars), in the same normalised feature space: what iCaRL's classifier could reach
    with unlimited memory (the exemplars' share of its gap to the output layer)."""
    stream = learner.stream
    with torch.inference_mode():
        learner.inner.eval()
        seen = [t for t in stream.tasks[: through + 1]]
        x = torch.cat([t.x_train for t in seen])
        y = torch.cat([t.y_train for t in seen])
        feats = ICaRL._eval_features(learner, x)
        classes = y.unique()
        means = F.normalize(torch.stack([feats[y == c].mean(0) for c in classes]), dim=1)
        accs = []
        for task in stream.tasks:
            nearest = torch.cdist(ICaRL._eval_features(learner, task.x_test), means).argmin(1)
            accs.append(float((classes[nearest] == task.y_test).float().mean()))
        learner.inner.train()
    return accs


def probe(variant: str, seed: int) -> dict[str, Any]:
    names, options = VARIANTS[variant]
    cfg = config("class", options, seed)
    stream = make_stream(cfg.stream)
    model, _ = build_model(stream, cfg.model, seed)
    plugins = create_plugins(names, cfg.options, seed=seed)
    learner = ContinualLearner(model, stream, cfg.train, plugins, seed=seed)
    random_init = [learner.accuracy(j, through=j) for j in range(len(stream.tasks))]
    is_icarl = any(isinstance(p, ICaRL) for p in plugins)
    nme, logits, ncm_all = [], [], []
    for i in range(len(stream.tasks)):
        learner.fit_task(i)
        nme.append(learner.accuracies(through=i))
        logits.append(_logit_accuracy(learner, i))
        if is_icarl:
            ncm_all.append(_ncm_all_accuracy(learner, i))
    row: dict[str, Any] = {"variant": variant, "seed": seed}
    matrices = [("plugin", nme), ("logits", logits)] + ([("ncm_all", ncm_all)] if is_icarl else [])
    for key, matrix in matrices:
        m = compute_metrics(matrix, random_init)
        row[key] = {"acc": m.acc, "bwt": m.bwt, "matrix": matrix}
    buffer = next(p for p in plugins if isinstance(p, Replay)).buffer
    if buffer.x is not None:
        with torch.inference_mode():
            learner.inner.eval()
            pred = logits_of(learner.inner(buffer.x)).argmax(1)
        row["buffer_accuracy"] = float((pred == buffer.y).float().mean())
        row["buffer_per_class"] = len(buffer.y) // len(buffer.y.unique())
    row["nme"] = is_icarl
    return row


def table(out: Path) -> str:
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    lines = [
        "| variant | seeds | ACC % (classifier used) | BWT % | R diagonal % | ACC % of the "
        "output layer | ACC % of the nearest mean of all training rows | buffer rows fit % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        runs = [r for r in rows if r["variant"] == variant]
        if not runs:
            continue

        def mean(key: str, field: str, runs: list[dict[str, Any]] = runs) -> str:
            values = [100 * r[key][field] for r in runs]
            sd = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 else ""
            return f"{statistics.fmean(values):.1f}{sd}"

        size = len(runs[0]["plugin"]["matrix"])
        diag = [statistics.fmean(r["plugin"]["matrix"][i][i] for r in runs) for i in range(size)]
        fit = statistics.fmean(r.get("buffer_accuracy", 0.0) for r in runs)
        with_ncm = [r for r in runs if "ncm_all" in r]
        ncm = mean("ncm_all", "acc", with_ncm) if with_ncm else "-"
        lines.append(
            f"| {variant} | {len(runs)} | {mean('plugin', 'acc')} | {mean('plugin', 'bwt')} | "
            + " / ".join(f"{100 * d:.0f}" for d in diag)
            + f" | {mean('logits', 'acc')} | {ncm} | {100 * fit:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("probe_500_steps.jsonl"))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--table", action="store_true")
    args = parser.parse_args()
    if args.table:
        print(table(args.out))
        return
    torch.set_num_threads(1)
    for seed in [int(s) for s in args.seeds.split(",")]:
        for variant in args.variants.split(","):
            row = probe(variant, seed)
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(variant, seed, round(100 * row["plugin"]["acc"], 1), flush=True)


if __name__ == "__main__":
    main()
