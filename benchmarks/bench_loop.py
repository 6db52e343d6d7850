"""The closed loop on a live server (issue 15, "How it is checked", second bullet).

An image CNN learns 8 Fashion-MNIST classes (Bag and Ankle boot held out) from an image
folder of training images; ``neuroplast serve`` serves it on 127.0.0.1. The same stream
goes through a fresh copy of that registry three times (:func:`neuroplast.loop.simulate`,
over HTTP): test images of the 8 classes, then the two unseen classes arriving at 20 % of
the inputs; 20 % of the inputs get their true label as feedback. The runs:

- ``no loop``: the served model as it is;
- ``loop (replay)``: one step of :func:`neuroplast.loop.run_loop` every ``--loop-every``
  inputs (drift + feedback trigger, a candidate by replay, the gate, an A/B test, promote or
  roll back), against the registry the server reads; the server swaps versions by itself;
- ``loop (naive)``: the same with the ``naive`` strategy (fine-tuning on the feedback
  alone, which forgets): it must be stopped by the gate or the A/B test, never promoted.

Reported: the live accuracy per block of inputs (plotted with ``--plot``), the inputs and
seconds from the shift to the first promotion, every candidate's accuracy on held-out
training images of the 8 old classes (before: the production version) and of the 2 new
ones, and the audit trail the loop wrote.

    flock /tmp/s3/heavy.lock .venv/bin/python benchmarks/bench_loop.py [--quick] \
        [--json out.json] [--plot docs/evidence/loop/live-accuracy.png]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from _common import console, environment, print_environment, print_table, write_json
from neuroplast.engine import Engine
from neuroplast.loop import LoopPolicy, load_policy
from neuroplast.loop.simulate import SimulationReport, simulate
from neuroplast.registry import Registry, history

MODEL = "fm8"
HELD_OUT = (8, 9)  # Bag, Ankle boot
RENAME = {"T-shirt/top": "T-shirt-top"}  # a folder name cannot hold a slash


def _name(label: str) -> str:
    return RENAME.get(label, label)


# ---- the model ------------------------------------------------------------------------------
def _split_rows(labels: np.ndarray, test: np.ndarray, fit: int, evaluate: int) -> dict[str, Any]:
    """Training rows of the 8 classes for the folder, and held-out training rows of the old
    and the new classes for the evaluation (the stream uses the test split)."""
    rng = np.random.default_rng(0)
    known = np.flatnonzero(~np.isin(labels, HELD_OUT) & ~test)
    new = np.flatnonzero(np.isin(labels, HELD_OUT) & ~test)
    rng.shuffle(known)
    rng.shuffle(new)
    return {"fit": known[:fit], "old": known[fit : fit + evaluate], "new": new[: evaluate // 4]}


def _write_folder(root: Path, images: np.ndarray, labels: np.ndarray, names: list[str]) -> None:
    from PIL import Image

    for i, (image, code) in enumerate(zip(images, labels, strict=True)):
        folder = root / _name(names[int(code)])
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0]).save(folder / f"{i}.png")


def train_model(home: Path, folder: Path, epochs: int) -> None:
    from neuroplast.workflows.serving_artifacts import ensure_onnx

    # fmt: off
    config = {
        "name": MODEL, "task": "image_classification",
        "data": {"path": str(folder), "val_fraction": 0.1, "test_fraction": 0.1, "seed": 13},
        "model": {"architecture": "image_cnn", "image_size": 28, "in_channels": 1,
                  "channels": [16, 32, 64], "dropout": 0.2},
        "train": {"epochs": epochs, "batch_size": 128, "seed": 0, "early_stopping": {"patience": 3},
                  "optimizer": {"name": "adamw", "lr": 0.002}},
    }
    # fmt: on
    with Engine(home) as engine:
        engine.train(config)
        engine.promote(f"{MODEL}:1", "production", reason="bench_loop: the 8-class model")
        ensure_onnx(engine.registry, f"{MODEL}:1")


# ---- a live server --------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "NEUROPLAST_HOME": str(home), "NEUROPLAST_NO_PROGRESS": "1"}
    env.pop("NEUROPLAST_DB_URL", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "neuroplast", "serve", MODEL, "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server ended early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=5) as reply:
                if reply.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"the server was not ready in 180 s:\n{log.read_text()[-3000:]}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---- one run --------------------------------------------------------------------------------
# fmt: off
def stream_spec(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "dataset": "fashion_mnist", "split": "test", "seed": args.seed, "batch_size": 8,
        "feedback": 0.2, "new_classes": True, "block": args.block, "rename": RENAME,
        "phases": [
            {"name": "8 classes", "inputs": args.before},
            {"name": "2 new classes at 20 %", "inputs": args.after,
             "shift": {"share": 0.2, "classes": ["Bag", "Ankle boot"]}},
        ],
    }


def policy(strategy: str, args: argparse.Namespace) -> LoopPolicy:
    return load_policy(LoopPolicy(), {
        "trigger.window": 250, "feedback.min_labelled": args.min_labelled, "feedback.holdout": 0.25,
        "update.strategy": strategy, "update.buffer_size": 2000,
        "update.epochs": args.update_epochs, "update.lr": args.update_lr,
        "gate.max_old_drop": 0.02, "gate.min_gain": 0.01, "gate.min_holdout": 30,
        "rollout.mode": "ab", "rollout.candidate_share": 0.5,
        "rollout.min_requests": 40, "rollout.min_feedback": 40,
    })
# fmt: on


def one_run(
    name: str, template: Path, root: Path, args: argparse.Namespace, strategy: str | None
) -> dict[str, Any]:
    home = root / name.replace(" ", "-").replace("(", "").replace(")", "")
    shutil.copytree(template, home)
    process, url = start_server(home, root / f"{home.name}.log")
    console.print(f"[bold]{name}[/]: serving on {url}")
    try:
        with Registry(home) as registry:
            report = simulate(
                MODEL,
                stream_spec(args),
                url=url,
                registry=registry if strategy else None,
                policy=policy(strategy, args) if strategy else None,
                loop_every=args.loop_every if strategy else None,
                on_block=lambda b: console.print(
                    f"  {b.end:>5} inputs  {b.accuracy:6.1%}  {b.seconds:6.0f} s  "
                    + ", ".join(f"{v} x{n}" for v, n in sorted(b.versions.items())),
                    markup=False,
                ),
            )
            trail = [
                {
                    "at": e.at.isoformat(),
                    "action": e.action,
                    "version": e.version,
                    "stage_to": e.stage_to,
                    "reason": e.reason,
                    "details": e.details,
                }
                for e in history(registry, MODEL)
                if e.action.startswith("loop_") or e.stage_to is not None
            ]
            versions = {v.ref: v.stage for v in registry.versions(MODEL)}
    finally:
        stop_server(process)
    return {
        "name": name,
        "strategy": strategy,
        "home": str(home),
        "report": report.to_dict(),
        "trail": trail,
        "versions": versions,
        "promotion": promotion(report),
    }


def promotion(report: SimulationReport) -> dict[str, Any] | None:
    """The first loop step that promoted: inputs and seconds after the shift."""
    shift = report.phases[1]
    for run in report.loop_runs:
        if run.report and run.report.get("promoted"):
            done = run.seconds + run.duration
            return {
                "version": run.report["promoted"],
                "inputs": run.at - shift["start"],
                "seconds": round(done - shift["seconds"], 1),
            }
    return None


# ---- the candidates' accuracy ---------------------------------------------------------------
def evaluate(runs: list[dict[str, Any]], data: Any, rows: dict[str, Any]) -> None:
    """Each version's accuracy on held-out training images of the old and new classes."""
    names = list(data.label_names)
    sets = {
        kind: (data.images[rows[kind]], [_name(names[int(c)]) for c in data.labels[rows[kind]]])
        for kind in ("old", "new")
    }
    for run in runs:
        scores = {}
        with Engine(Path(run["home"])) as engine:
            for ref in run["versions"]:
                predictor = engine.predictor(ref)
                scores[ref] = {
                    kind: float(
                        np.mean(
                            [p.label == t for p, t in zip(predictor.predict(x), y, strict=True)]
                        )
                    )
                    for kind, (x, y) in sets.items()
                }
        run["accuracy"] = scores


# ---- the report -----------------------------------------------------------------------------
def _live(report: dict[str, Any], start: int, end: int | None = None) -> float:
    blocks = [
        b for b in report["blocks"] if b["start"] >= start and (end is None or b["end"] <= end)
    ]
    return float(
        np.average([b["accuracy"] for b in blocks], weights=[b["end"] - b["start"] for b in blocks])
    )


# fmt: off
def summarise(runs: list[dict[str, Any]], args: argparse.Namespace) -> None:
    shift, first, rows = args.before, f"{MODEL}:1", []
    for run in runs:
        report, promo, acc = run["report"], run["promotion"], run["accuracy"]
        rows.append([
            run["name"], f"{_live(report, 0, shift):.1%}", f"{_live(report, shift):.1%}",
            f"{_live(report, shift + args.after - 1000):.1%}",
            "-" if promo is None else
            f"{promo['version']} after {promo['inputs']} inputs, {promo['seconds']:.0f} s",
            f"{acc[first]['old']:.1%}",
            "; ".join(f"{c} ({stage}): old {acc[c]['old']:.1%}, new {acc[c]['new']:.1%}"
                      for c, stage in run["versions"].items() if c != first) or "-",
            str(report['refused']),
        ])
    print_table(
        f"Closed loop on a live server: {args.before} inputs of 8 classes, then {args.after} with "
        "Bag + Ankle boot at 20 %; feedback on 20 %",
        ["run", "live acc before shift", "after shift", "last 1,000", "first promotion",
         "production old-class acc", "candidates (old / new classes)", "feedback refused"],
        rows,
    )
    for run in (r for r in runs if r["trail"]):
        console.print(f"[bold]audit trail, {run['name']}[/]")
        for e in run["trail"]:
            line = f"  {e['action']:<18} {e['version'] or '-':<4} {e['reason']}"
            console.print(line, markup=False)
# fmt: on


# fmt: off
def plot(runs: list[dict[str, Any]], args: argparse.Namespace, path: Path) -> None:
    """Live accuracy per block for each run; a loop's candidates as marks where they were
    trained (x: blocked by the gate, ^: rolled out), a promotion as a dotted line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=120)
    for k, run in enumerate(runs):
        blocks = run["report"]["blocks"]
        (line,) = ax.plot([b["end"] for b in blocks], [b["accuracy"] for b in blocks],
                          marker=".", label=run["name"], zorder=3 - k * 0.1)
        for step in run["report"]["loop_runs"]:
            if step["report"] and step["report"].get("candidate"):
                kind = "x" if step["report"]["outcome"] == "blocked" else "^"
                ax.plot(step["at"], 0.43 + 0.02 * k, kind, color=line.get_color())
        if run["promotion"] is not None:
            x = args.before + run["promotion"]["inputs"]
            ax.axvline(x, color=line.get_color(), linestyle=":", linewidth=1)
            ax.annotate(f"{run['promotion']['version']} promoted", (x, 0.5), rotation=90,
                        fontsize=7, color=line.get_color(), ha="right")
    ax.axvline(args.before, color="grey", linestyle="--", linewidth=1)
    ax.annotate("Bag + Ankle boot arrive (20 %)", (args.before, 0.97), fontsize=7, ha="left")
    ax.set(xlabel="inputs served", ylabel=f"live accuracy per {args.block} inputs", ylim=(0.4, 1.0))
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    console.print(f"plot: {path}")
# fmt: on


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and inputs")
    parser.add_argument("--fit", type=int, default=12000, help="training images of the 8 classes")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--update-epochs", type=int, default=2)
    parser.add_argument("--before", type=int, default=1000)
    parser.add_argument("--after", type=int, default=8000)
    parser.add_argument("--block", type=int, default=250)
    parser.add_argument("--loop-every", type=int, default=250)
    parser.add_argument("--min-labelled", type=int, default=800, help="feedback.min_labelled")
    parser.add_argument(
        "--update-lr", type=float, default=None, help="update.lr (default: the model's own)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["none", "replay+lwf", "naive"],
        help="none (no loop) or the loop with an update strategy (replay, replay+lwf, naive...)",
    )
    parser.add_argument("--home", type=Path, default=None, help="reuse this trained registry")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--from-json", type=Path, default=None, help="re-plot a --json result")
    args = parser.parse_args()
    if args.from_json:  # the table and the plot of an earlier run, nothing is run
        saved = json.loads(args.from_json.read_text())
        for key in ("before", "after", "block"):
            setattr(args, key, int(saved["args"][key]))
        summarise(saved["runs"], args)
        return plot(saved["runs"], args, args.plot) if args.plot else None
    if args.quick:
        args.fit, args.epochs, args.after, args.min_labelled = 4000, 2, 4000, 400
    import torch

    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    env = environment()
    print_environment(env)
    from neuroplast.data import load_builtin

    started = time.perf_counter()
    data = load_builtin("fashion_mnist")
    rows = _split_rows(data.labels, data.test_mask, args.fit, 4000)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        template = args.home or root / "template"
        if not (template / "registry.db").exists():
            folder = template.parent / f"{template.name}-images"  # the model's data.path
            fit = rows["fit"]
            _write_folder(folder, data.images[fit], data.labels[fit], list(data.label_names))
            train_model(template, folder, args.epochs)
            console.print(f"trained {MODEL}:1 in {time.perf_counter() - started:.0f} s")
        runs = [
            one_run(
                "no loop" if r == "none" else f"loop ({r})",
                template,
                root,
                args,
                None if r == "none" else r,
            )
            for r in args.runs
        ]
        evaluate(runs, data, rows)
    summarise(runs, args)
    if args.plot:
        plot(runs, args, args.plot)
    console.print(f"{time.perf_counter() - started:.0f} s")
    if args.json:
        for run in runs:
            run.pop("home")
        write_json(
            args.json,
            {"environment": env, "args": {k: str(v) for k, v in vars(args).items()}, "runs": runs},
        )


if __name__ == "__main__":
    main()
