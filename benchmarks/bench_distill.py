"""Distillation against its alone twin: the same student, epochs, batches and seeds.

T and alpha are chosen on a held-out seed by *validation* accuracy; the reported seeds are
then run once with that choice and both arms are scored on the test split::

    python benchmarks/bench_distill.py TEACHER --student student.yaml --epochs 3 \\
        --select-seed 100 --seeds 0 1 2 --grid 2:0.5 4:0.5 4:0.9 8:0.9

TEACHER is a registered model (its data config gives the splits, its train config the
optimizer); the student YAML holds the student's ``architecture`` and options.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import torch
import yaml

from neuroplast.compression.techniques import distill_student, run_config_of
from neuroplast.data.prepare import PreparedData
from neuroplast.inference.inputs import model_data
from neuroplast.registry import Registry
from neuroplast.workflows.report import load_registered


def accuracy(model: torch.nn.Module, data: PreparedData, split: str, min_length: int) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for inputs, targets in data.loader(
            split, batch_size=256, shuffle=False, min_length=min_length
        ):  # type: ignore[arg-type]
            out = model(inputs)
            logits = out[0] if isinstance(out, tuple) else out
            correct += int((logits.argmax(1) == targets).sum())
            total += int(targets.shape[0])
    return correct / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("teacher")
    parser.add_argument("--student", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--select-seed", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--grid", nargs="+", default=["4:0.7"], help="T:alpha pairs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    with Registry() as registry:
        version, teacher = load_registered(registry, args.teacher)
    data = model_data(teacher.meta, teacher.vocab)
    train = run_config_of(version.config).train
    student = yaml.safe_load(args.student.read_text(encoding="utf-8"))
    min_length = int(teacher.meta.preprocessing.get("min_length", 1))
    print(
        f"teacher {args.teacher} test accuracy "
        f"{accuracy(teacher.model, data, 'test', min_length):.4f}"
    )

    def run(seed: int, t: float, a: float, split: str) -> tuple[float, float]:
        alone, distilled = distill_student(
            teacher,
            data,
            train.model_copy(update={"seed": seed}),
            student_config=student,
            default_student=student,
            epochs=args.epochs,
            temperature=t,
            alpha=a,
        )
        ml = int(alone.loaded.meta.preprocessing.get("min_length", 1)) if alone.loaded else 1
        return accuracy(alone.model, data, split, ml), accuracy(distilled.model, data, split, ml)

    grid = [(float(p.split(":")[0]), float(p.split(":")[1])) for p in args.grid]
    selection: list[dict[str, Any]] = []
    for t, a in grid:
        alone, dist = run(args.select_seed, t, a, "val")
        selection.append({"T": t, "alpha": a, "val_alone": alone, "val_distilled": dist})
        print(
            f"select seed {args.select_seed} T={t} alpha={a}: "
            f"val alone {alone:.4f} distilled {dist:.4f}",
            flush=True,
        )
    best = max(selection, key=lambda r: r["val_distilled"])
    t, a = best["T"], best["alpha"]
    print(f"chosen T={t} alpha={a}", flush=True)
    rows = []
    for seed in args.seeds:
        alone, dist = run(seed, t, a, "test")
        rows.append({"seed": seed, "alone": alone, "distilled": dist})
        print(
            f"seed {seed}: test alone {alone:.4f} distilled {dist:.4f} "
            f"({100 * (dist - alone):+.2f} pt)",
            flush=True,
        )
    for arm in ("alone", "distilled"):
        values = [r[arm] for r in rows]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{arm}: mean {statistics.mean(values):.4f} +- {sd:.4f}")
    diffs = [r["distilled"] - r["alone"] for r in rows]
    print(
        f"distilled - alone: mean {100 * statistics.mean(diffs):+.2f} pt, per seed "
        + ", ".join(f"{100 * d:+.2f}" for d in diffs)
    )
    if args.json:
        args.json.write_text(
            json.dumps({"selection": selection, "T": t, "alpha": a, "rows": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
