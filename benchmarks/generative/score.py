"""FID and precision/recall of one registered generator with a chosen sample count and
DDIM step count (``neuroplast evaluate`` uses the version's own): writes the JSON document
that ``neuroplast evaluate --json`` prints.

    python benchmarks/generative/score.py --home HOME --model fm-ddpm --samples 500 \
        --steps 10 --out docs/evidence/generative/fid-fm-ddpm.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from neuroplast.engine import Engine
from neuroplast.tasks import task_handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with Engine(args.home) as engine:
        handler = task_handler("image_generation")
        done = handler.evaluate(  # type: ignore[call-arg]
            engine.registry, args.model, samples=args.samples, steps=args.steps
        )
    args.out.write_text(json.dumps(done.document, indent=2) + "\n")
    print("\n".join(done.lines))


if __name__ == "__main__":
    main()
