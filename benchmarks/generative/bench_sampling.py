"""DDPM sampling time: 64 images with 50 DDIM steps on one CPU thread (median of repeats).

The baselines run in the same process: the same DDPM with 10 DDIM steps, and the VAE and
the GAN of the same registry (one network pass per image) when they are there. Prints one
line per model with the median seconds and the ratio to the 50-step DDPM.

    python benchmarks/generative/bench_sampling.py --home HOME [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from neuroplast.engine import Engine
from neuroplast.errors import ModelNotFoundError
from neuroplast.tasks.image_generation.sampling import generate_images, load_generator

N = 64


def _median_seconds(ref: str, registry, steps: int | None, repeats: int) -> float:
    gen = load_generator(registry, ref)
    times = []
    for seed in range(repeats):
        started = time.perf_counter()
        generate_images(gen, n=N, seed=seed, steps=steps)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    with Engine(args.home) as engine:
        registry = engine.registry
        main_s = _median_seconds("fm-ddpm", registry, 50, args.repeats)
        rows.append(("fm-ddpm, 50 DDIM steps", main_s))
        rows.append(
            ("fm-ddpm, 10 DDIM steps", _median_seconds("fm-ddpm", registry, 10, args.repeats))
        )
        for ref in ("fm-vae", "fm-gan"):
            try:
                rows.append(
                    (f"{ref} (one pass)", _median_seconds(ref, registry, None, args.repeats))
                )
            except ModelNotFoundError:
                continue
    print(f"sampling {N} images, 1 CPU thread, median of {args.repeats}")
    for name, seconds in rows:
        print(f"  {name:26} {seconds:8.3f} s   x{seconds / main_s:.4f} of the 50-step DDPM")


if __name__ == "__main__":
    main()
