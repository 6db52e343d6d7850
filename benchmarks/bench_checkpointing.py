"""Peak memory of one training step with and without ``model.gradient_checkpointing``.

Each variant runs in a fresh process (so that one's allocations do not hide the other's) and
measures the step (forward, cross-entropy, backward; no optimizer step, whose state is the same
either way) twice:

- ``torch peak``: torch.profiler with ``profile_memory=True`` around the step; the peak of the
  ``Total Allocated`` counter of the trace's CPU ``[memory]`` events, counted from the step's
  start (:func:`neuroplast.training.profiler.peak_allocated`). It counts torch's CPU allocator
  only, which is where activations live. (tracemalloc does not see torch's allocations.)
- ``RSS growth``: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after the step minus before it
  (the process's peak resident memory; includes allocator caching and one-time buffers).

It also times the step (median of ``--repeats`` steps after one warm-up): checkpointing runs
each block's forward twice. Token ids are random (memory and time depend on the shapes only).

    .venv/bin/python benchmarks/bench_checkpointing.py                  # transformer
    .venv/bin/python benchmarks/bench_checkpointing.py --models transformer,minilm
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from _common import environment, print_environment  # noqa: E402

#: The transformer measured: the shape of a long-text classifier.
TRANSFORMER = {
    "vocab_size": 20000,
    "num_classes": 2,
    "embedding_dim": 256,
    "num_heads": 4,
    "hidden_dim": 1024,
    "num_layers": 4,
    "dropout": 0.1,
}


def _model(name: str, checkpointing: bool) -> Any:
    from neuroplast.models import create_model

    options: dict[str, Any] = (
        dict(TRANSFORMER) if name == "transformer" else {"num_classes": 2, "dropout": 0.1}
    )
    return create_model(name, {**options, "gradient_checkpointing": checkpointing})


def child(name: str, checkpointing: bool, batch: int, length: int, repeats: int) -> dict[str, Any]:
    """One variant, in this process: memory of the first step, then the timed steps."""
    import torch
    import torch.nn.functional as F
    from torch.profiler import ProfilerActivity, profile

    from neuroplast.training.profiler import peak_allocated

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = _model(name, checkpointing).train()
    ids = torch.randint(1000, 2000, (batch, length))
    targets = torch.randint(0, 2, (batch,))

    def step() -> float:
        loss = F.cross_entropy(model(ids), targets)
        loss.backward()
        model.zero_grad(set_to_none=True)
        return float(loss.detach())

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        loss = step()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.json"
        prof.export_chrome_trace(str(trace))
        peak = peak_allocated(trace)
    times = []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return {
        "model": name,
        "checkpointing": checkpointing,
        "batch": batch,
        "length": length,
        "loss": loss,
        "torch_peak_mib": peak / 2**20,
        "rss_growth_mib": (rss_after - rss_before) / 1024,  # ru_maxrss is in KiB on Linux
        "step_seconds": statistics.median(times[1:]),
    }


def _run_child(name: str, checkpointing: bool, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", name, "--batch", str(args.batch)]
    command += ["--length", str(args.length), "--repeats", str(args.repeats)]
    command += ["--checkpointing"] if checkpointing else []
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="transformer", help="transformer,minilm")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--length", type=int, default=256, help="tokens per input")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="append the results (JSON lines) here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--checkpointing", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args.child, args.checkpointing, args.batch, args.length, args.repeats)
        print(json.dumps(result))
        return
    print_environment(environment())
    print(f"batch {args.batch} x {args.length} tokens, one thread, a fresh process per variant")
    header = "| model | checkpointing | torch peak MiB | RSS growth MiB | step s | loss |"
    print(header + "\n|---|---|---|---|---|---|")
    for name in args.models.split(","):
        rows = [_run_child(name, flag, args) for flag in (False, True)]
        for row in rows:
            print(
                f"| {name} | {'on' if row['checkpointing'] else 'off'} | "
                f"{row['torch_peak_mib']:.1f} | {row['rss_growth_mib']:.1f} | "
                f"{row['step_seconds']:.3f} | {row['loss']:.7f} |"
            )
        off, on = rows
        print(
            f"{name}: torch peak {on['torch_peak_mib'] / off['torch_peak_mib']:.2f}x, "
            f"step time {on['step_seconds'] / off['step_seconds']:.2f}x, "
            f"loss difference {abs(on['loss'] - off['loss']):.1e}"
        )
        if args.json is not None:
            with args.json.open("a") as f:
                for row in rows:
                    f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
