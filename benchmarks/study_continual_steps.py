"""The split-MNIST protocol of ``continual reproduce`` with more (or fewer) epochs a task.

Our tasks get 5 epochs of ~7 Adam steps (35 steps); van de Ven & Tolias trained 2,000
iterations a task. This script reruns cells of the table with other epochs, keeping the
protocol's model, optimizer and strengths, to see which gaps to the paper come from that::

    .venv/bin/python benchmarks/study_continual_steps.py domain naive,ewc,si 5,20,60
    .venv/bin/python benchmarks/study_continual_steps.py class icarl,joint 20,60
    .venv/bin/python benchmarks/study_continual_steps.py class naive,lwf 5 --seeds 0 1 2

Prints ACC % per seed and the mean, one line per (epochs, strategy).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from neuroplast.continual.reproduce import PROTOCOLS
from neuroplast.continual.runner import run_strategy
from neuroplast.continual.sources import make_stream


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", choices=["task", "domain", "class"])
    parser.add_argument("strategies", help="comma-separated; compose with '+'")
    parser.add_argument("epochs", help="comma-separated epochs a task, e.g. 5,20,60")
    parser.add_argument("--seeds", type=int, nargs="+", default=[100])
    args = parser.parse_args()
    torch.set_num_threads(1)
    for epochs in (int(e) for e in args.epochs.split(",")):
        config = PROTOCOLS["split-mnist"](args.scenario, args.seeds, epochs)
        stream = make_stream(config.stream)
        for strategy in args.strategies.split(","):
            start = time.perf_counter()
            accs = [
                100 * run_strategy(stream, config, strategy.split("+"), seed=seed).metrics.acc
                for seed in args.seeds
            ]
            print(
                f"{args.scenario}-IL {strategy} {epochs} epochs: ACC "
                + " / ".join(f"{a:.1f}" for a in accs)
                + f" (mean {statistics.mean(accs):.1f}, {time.perf_counter() - start:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
