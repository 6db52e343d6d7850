"""Fashion-MNIST test accuracy of image_cnn with and without augmentation (issue 21).

One ``(seed, arm)`` run per call, so the study runs as resumable chunks (each one thread,
through a job queue if the machine is shared); every finished run appends one line to
``--results`` (JSON lines) and a run already there is skipped. ``--table`` prints every
recorded run and, per arm, the mean +- sample standard deviation over seeds::

    python benchmarks/vision/augment_study.py --home /tmp/np-study --seed 0 --arm standard
    python benchmarks/vision/augment_study.py --table

``--epochs`` and ``--channels`` choose the budget and the width (defaults: the template's
channels, 15 epochs); the table groups the runs by the two, so a short and a long study
recorded in the same file stay apart.

The recipe is the image-cnn template (``neuroplast init --template image-cnn``) with the
``--set`` overrides below; both arms get the same epochs, schedule and seeds (``train.seed``
sets the weights, the batch order and the augmentation draws). The augmented arm uses
the transforms that suit Fashion-MNIST: a random crop after 2 pixels of padding and a
left-right flip (no rotation, no erasing).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NEUROPLAST = Path(sys.executable).with_name("neuroplast")
RESULTS = ROOT / "benchmarks" / "vision" / "augment_study.jsonl"
CHANNELS = "[32,64,128]"
EPOCHS = 15


def _recipe(epochs: int, channels: str) -> list[str]:
    return [
        f"model.channels={channels}",
        f"train.epochs={epochs}",
        "train.early_stopping.enabled=false",
        "data.val_fraction=0.05",
    ]


CROP_AND_FLIP = [
    "data.augment=standard",
    "data.augmentation.padding=2",
    "data.augmentation.rotation=0",
    "data.augmentation.erase_p=0",
]
ARMS = {"none": ["data.augment=none"], "standard": CROP_AND_FLIP}


def _vit(epochs: int) -> list[str]:
    """The ViT beside them: the image-vit template with 7x7 patches (16 tokens; the
    template's 4x4 patches cost about three times as much), the same epochs and
    augmentation."""
    return ["model.patch_size=7", *_recipe(epochs, CHANNELS)[1:], *CROP_AND_FLIP]


def _recorded(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _template(arm: str) -> str:
    return "image-vit" if arm == "vit" else "image-cnn"


def _overrides(seed: int, arm: str, epochs: int, channels: str) -> list[str]:
    recipe = _vit(epochs) if arm == "vit" else [*_recipe(epochs, channels), *ARMS[arm]]
    name = "fm-vit" if arm == "vit" else f"fm-cnn-{arm}"
    return [*recipe, f"train.seed={seed}", f"name={name}-s{seed}"]


def run(home: Path, seed: int, arm: str, results: Path, epochs: int, channels: str) -> None:
    """Train one (seed, arm), resuming an interrupted attempt, and append its result."""
    overrides = _overrides(seed, arm, epochs, channels)
    if any(r["overrides"] == overrides for r in _recorded(results)):
        print(f"seed {seed}, {arm}: already in {results}")
        return
    home.mkdir(parents=True, exist_ok=True)
    config = home / f"{_template(arm)}.yaml"
    template = subprocess.run(
        [NEUROPLAST, "init", "--template", _template(arm)],
        check=True,
        capture_output=True,
        text=True,
    )
    config.write_text(template.stdout, encoding="utf-8")
    marker = home / f"started-{arm}-s{seed}"
    command = [NEUROPLAST, "train", str(config), "--home", str(home), "--json"]
    command += [arg for o in overrides for arg in ("--set", o)]
    if marker.exists():
        command.append("--resume")
    marker.touch()
    started = time.time()
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    document = json.loads(done.stdout)
    row = {
        "seed": seed,
        "arm": arm,
        "epochs": epochs,
        "channels": None if arm == "vit" else channels,
        "model": "image_vit, patch 7" if arm == "vit" else "image_cnn",
        "overrides": overrides,
        "test_accuracy": document["test"]["accuracy"],
        "val_accuracy": [h["val_accuracy"] for h in document["history"]],
        "train_seconds": document["train_seconds"],
        "wall_seconds": round(time.time() - started, 1),
        "resumed_from_epoch": document["resumed_from_epoch"],
    }
    with results.open("a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")
    marker.unlink()
    print(json.dumps(row))


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    sd = f" +- {statistics.stdev(values):.4f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):.4f}{sd}"


def table(results: Path) -> None:
    """One markdown table per (epochs, channels) recorded: test accuracy per seed and arm,
    then mean +- sample sd over seeds."""
    rows = _recorded(results)
    for epochs in sorted({r["epochs"] for r in rows}):
        for channels in sorted({r["channels"] for r in rows if r["channels"]}):
            group = [r for r in rows if r["epochs"] == epochs and r["channels"] in (channels, None)]
            if any(r["arm"] in ARMS for r in group):
                print(f"\n{epochs} epochs, channels {channels}:\n")
                _table(group)


def _table(rows: list[dict[str, Any]]) -> None:
    by = {(r["arm"], r["seed"]): r for r in rows}
    seeds = sorted({r["seed"] for r in rows if r["arm"] in ARMS})
    print("| seed | none | standard (crop + flip) | standard - none | train s (none / standard) |")
    print("| --- | --- | --- | --- | --- |")
    gains: list[float] = []
    for seed in seeds:
        plain, augmented = by.get(("none", seed)), by.get(("standard", seed))
        cells = [f"{r['test_accuracy']:.4f}" if r else "-" for r in (plain, augmented)]
        times = " / ".join(f"{r['train_seconds']:.0f}" if r else "-" for r in (plain, augmented))
        gain = "-"
        if plain and augmented:
            gains.append(augmented["test_accuracy"] - plain["test_accuracy"])
            gain = f"{gains[-1]:+.4f}"
        print(f"| {seed} | {cells[0]} | {cells[1]} | {gain} | {times} |")
    means = [_mean_sd([by[a, s]["test_accuracy"] for s in seeds if (a, s) in by]) for a in ARMS]
    gain_text = _mean_sd(gains) if gains else "-"
    print(f"| mean +- sd | {means[0]} | {means[1]} | {gain_text} | |")
    for r in sorted((r for r in rows if r["arm"] == "vit"), key=lambda r: r["seed"]):
        print(
            f"\nViT (patch 7, crop + flip), seed {r['seed']}: test accuracy "
            f"{r['test_accuracy']:.4f}, train {r['train_seconds']:.0f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="registry home for the runs")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--arm", choices=[*ARMS, "vit"], help="vit: the ViT, augmented")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--channels", default=CHANNELS, help="image_cnn stage widths")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--table", action="store_true", help="print the table and stop")
    args = parser.parse_args()
    if args.table:
        table(args.results)
        return
    if args.home is None or args.seed is None or args.arm is None:
        parser.error("a run needs --home, --seed and --arm (or --table)")
    run(args.home, args.seed, args.arm, args.results, args.epochs, args.channels)


if __name__ == "__main__":
    main()
