"""Does data.augment=standard keep training throughput? (issue 21)

Two measurements on Fashion-MNIST's training images, each with and without augmentation in
the same run, as the median of ``--repeats`` repeats (one torch thread):

- ``loader``: images/s of the training loader alone (batches of 128: fetch, augment);
- ``train step``: images/s of loader + forward + backward + AdamW step of the image-cnn
  template's CNN, i.e. what training sees.

The ratio augmented / plain is printed for both::

    /tmp/s5/heavy .venv/bin/python benchmarks/bench_augment.py --out augment.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from _common import console, environment, print_environment, print_table, write_json
from neuroplast.config import DataConfig
from neuroplast.data.prepare import prepare
from neuroplast.models import create_model


def _images_per_second(loader: Any, batches: int, step: Any = None) -> float:
    seen, started = 0, time.perf_counter()
    for index, (x, y) in enumerate(loader):
        if index == batches:
            break
        if step is not None:
            step(x, y)
        seen += len(y)
    return seen / (time.perf_counter() - started)


def _cnn_step() -> Any:
    torch.manual_seed(0)
    model = create_model("image_cnn", {"num_classes": 10}).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loader-batches", type=int, default=200)
    parser.add_argument("--train-batches", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    env = environment()
    print_environment(env)
    data = {
        mode: prepare(DataConfig(dataset="fashion_mnist", augment=mode))
        for mode in ("none", "standard")
    }
    results: dict[str, dict[str, float]] = {}
    for name, batches, make_step in (
        ("loader", args.loader_batches, lambda: None),
        ("train step", args.train_batches, _cnn_step),
    ):
        runs: dict[str, list[float]] = {"none": [], "standard": []}
        for repeat in range(args.repeats):
            for mode in ("none", "standard"):  # interleaved, so drifts in load hit both
                loader = data[mode].loader("train", batch_size=128, shuffle=True, seed=repeat)
                runs[mode].append(_images_per_second(loader, batches, make_step()))
        plain, augmented = (statistics.median(runs[m]) for m in ("none", "standard"))
        results[name] = {"plain": plain, "augmented": augmented, "ratio": augmented / plain}
    rows = [
        [name, f"{r['plain']:,.0f}", f"{r['augmented']:,.0f}", f"{r['ratio']:.3f}"]
        for name, r in results.items()
    ]
    print_table(
        f"images/s, median of {args.repeats} (1 thread)",
        ["measure", "data.augment=none", "standard", "ratio"],
        rows,
    )
    console.print("augmentation: padding 2, flips, rotation 10 deg, erasing p 0.25 (the defaults)")
    if args.out is not None:
        write_json(args.out, {"environment": env, "repeats": args.repeats, "results": results})


if __name__ == "__main__":
    main()
