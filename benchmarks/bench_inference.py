"""Inference speed and memory: eager PyTorch against the Predictor with ``backend="auto"``,
at batch 1, 8, 32 and 64.

For each of the four text architectures (Rotten Tomatoes, 10k vocabulary, 50 tokens, each
architecture's default widths) and the image CNN (Fashion-MNIST), the script trains a model
for a short while (so that ``auto``'s agreement check sees real decisions), registers it,
builds its Predictor with ``backend="auto"`` (which measures every backend and thread count
at 1, 8, 32, 64 and ``--max-batch`` inputs on 64 validation inputs and runs each batch on the
fastest that agrees with fp32), then times on real test inputs, in one process, the median of
``--repeats`` interleaved repeats after a warm-up, at each batch size:

  (a) eager PyTorch fp32 called directly on ready tensors (tokenized and padded beforehand,
      each batch to its longest text) on torch's threads, and
  (b) the Predictor on raw texts / uint8 images (tokenization, padding, softmax included).

It prints the CPU model, the ratio (a)/(b) per architecture and batch size and the lane auto
runs there, each model's forward FLOPs per sample (``torch.utils.flop_counter``), the
machine's fp32 matmul GFLOP/s, and the peak RSS of a separate process that loads the ONNX
backend of the text CNN (no torch) and answers 1,000 single predictions.

    .venv/bin/python benchmarks/bench_inference.py [--quick] [--threads N] [--repeats 7]
        [--archs cnn,transformer] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import console, environment, print_environment, print_table

TEXT_ARCHS = ("transformer", "lstm", "cnn", "hybrid")

# VmHWM is this process's own peak (ru_maxrss would carry the forking parent's over exec).
_HWM = """
def hwm_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

_RSS_CHILD = (
    _HWM
    + """
import json, sys, time
start = time.perf_counter()
from neuroplast.inference.onnx_predictor import OnnxPredictor
predictor = OnnxPredictor.from_dir(sys.argv[1])
texts = json.loads(open(sys.argv[2]).read())
loaded = time.perf_counter() - start
for i in range(1000):
    predictor.predict([texts[i % len(texts)]])
print(json.dumps({
    "peak_rss_mb": hwm_mb(),
    "torch_imported": "torch" in sys.modules,
    "load_seconds": loaded,
    "seconds_for_1000": time.perf_counter() - start - loaded,
}))
"""
)

_TORCH_RSS_CHILD = (
    _HWM
    + """
import json
import torch
print(json.dumps({"peak_rss_mb": hwm_mb()}))
"""
)

_ORT_RSS_CHILD = (
    _HWM
    + """
import json, sys
import numpy as np
import onnxruntime as ort
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
x = np.ones((1, 20), dtype=np.int64)
for _ in range(1000):
    session.run(None, {"input": x})
print(json.dumps({"peak_rss_mb": hwm_mb()}))
"""
)


def text_config(arch: str, *, epochs: int, limit: int | None) -> dict[str, Any]:
    return {
        "name": f"bench-{arch}",
        "task": "sentiment_analysis",
        "data": {
            "dataset": "rotten_tomatoes",
            "max_length": 50,
            "seed": 13,
            "limit": limit,
            "vocab": {"max_size": 10000, "min_freq": 1},
        },
        "model": {"architecture": arch},
        "train": {"epochs": epochs, "batch_size": 64, "seed": 42},
    }


def image_config(*, epochs: int, limit: int) -> dict[str, Any]:
    return {
        "name": "bench-image-cnn",
        "task": "image_classification",
        "data": {"dataset": "fashion_mnist", "seed": 13, "limit": limit},
        "model": {"architecture": "image_cnn", "channels": [32, 64, 128]},
        "train": {"epochs": epochs, "batch_size": 128, "seed": 42},
    }


BATCH_SIZES = (1, 8, 32, 64)


def _stack(rows: list[torch.Tensor]) -> torch.Tensor:
    """One eager batch: token id rows padded to the longest (or images concatenated)."""
    if rows[0].dtype != torch.long:
        return torch.cat(rows)
    batch = torch.zeros((len(rows), max(r.size(1) for r in rows)), dtype=torch.long)
    for i, r in enumerate(rows):
        batch[i, : r.size(1)] = r[0]
    return batch


def compare_sizes(
    loaded: Any, predictor: Any, inputs: Any, *, repeats: int, singles: int
) -> dict[int, dict[str, Any]]:
    """Per batch size: eager fp32 on ready tensors and the Predictor on raw inputs, ms per
    input, interleaved over ``repeats`` rounds after a warm-up (the one timing helper)."""
    from neuroplast.compression.bench import eager_tensors
    from neuroplast.inference.timing import time_calls

    model = loaded.model.eval()
    tensors = eager_tensors(loaded, inputs)
    out: dict[int, dict[str, Any]] = {}
    for size in BATCH_SIZES:
        count = singles if size == 1 else (len(inputs) // size) * size
        raw = [inputs[i : i + size] for i in range(0, count, size)]
        ready = [_stack(tensors[i : i + size]) for i in range(0, count, size)]

        def eager(batches: list[torch.Tensor] = ready) -> None:
            with torch.inference_mode():
                for x in batches:
                    model(x)

        def served(chunks: list[Any] = raw) -> None:
            for chunk in chunks:
                predictor.predict_proba(chunk)

        eager_t, pred_t = time_calls([eager, served], repeats=repeats, items=count)
        lane = predictor.table.for_size(size) if predictor.table is not None else None
        out[size] = {
            "eager_ms": eager_t.median,
            "eager_spread_ms": eager_t.spread,
            "predictor_ms": pred_t.median,
            "predictor_spread_ms": pred_t.spread,
            "speedup": eager_t.median / pred_t.median,
            "inputs": count,
            "lane": None if lane is None else f"{lane.backend}/{lane.threads}t",
        }
    return out


def measure(engine: Any, ref: str, args: argparse.Namespace) -> dict[str, Any]:
    from neuroplast.compression.bench import eager_tensors, flops_per_sample
    from neuroplast.inference.inputs import model_data, split_inputs
    from neuroplast.inference.registered import registered_predictor
    from neuroplast.workflows.report import load_registered

    _, loaded = load_registered(engine.registry, ref)
    started = time.perf_counter()
    predictor = registered_predictor(
        engine.registry,
        ref,
        backend="auto",
        threads=args.threads,
        max_batch=args.max_batch,
        remeasure=True,
    )
    choose_seconds = time.perf_counter() - started
    data = model_data(loaded.meta, loaded.vocab)
    test = split_inputs(data, "test", limit=args.inputs)
    sizes = compare_sizes(loaded, predictor, test.inputs, repeats=args.repeats, singles=100)
    batch = _stack(eager_tensors(loaded, test.inputs[:64]))
    table = predictor.table
    return {
        "architecture": loaded.meta.architecture,
        "sizes": sizes,
        "flops_per_sample": flops_per_sample(loaded.model, batch),
        "auto_seconds": choose_seconds,
        "auto_summary": table.summary() if table is not None else predictor.backend,
        "auto_choices": [] if table is None else [vars(c) for c in table.choices],
        "auto_measured": [] if table is None else [vars(t) for t in table.measured],
        "inputs": len(test),
    }


def rss(engine: Any, ref: str, work: Path) -> dict[str, Any]:
    from neuroplast.compression.export import export_version
    from neuroplast.inference.inputs import model_data, split_inputs
    from neuroplast.workflows.report import load_registered

    outcome = export_version(engine.registry, ref, output=work / "serve", measure=False)
    _, loaded = load_registered(engine.registry, outcome.version.ref)
    texts = split_inputs(model_data(loaded.meta, loaded.vocab), "test", limit=200).inputs
    (work / "texts.json").write_text(json.dumps(list(texts)))
    child = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(work / "serve"), str(work / "texts.json")],
        capture_output=True,
        text=True,
        check=True,
    )
    torch_child = subprocess.run(
        [sys.executable, "-c", _TORCH_RSS_CHILD], capture_output=True, text=True, check=True
    )
    ort_child = subprocess.run(
        [sys.executable, "-c", _ORT_RSS_CHILD, str(work / "serve" / "model.onnx")],
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        **json.loads(child.stdout),
        "torch_import_only_rss_mb": json.loads(torch_child.stdout)["peak_rss_mb"],
        "bare_onnxruntime_rss_mb": json.loads(ort_child.stdout)["peak_rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small data, 2 repeats")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch and ONNX Runtime threads (default: torch's default, ORT's physical cores)",
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--inputs", type=int, default=640, help="test inputs timed per model")
    parser.add_argument("--max-batch", type=int, default=64, help="auto's largest batch")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--archs", default=",".join((*TEXT_ARCHS, "image_cnn")))
    parser.add_argument("--image-limit", type=int, default=8000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.inputs = 2, 128
    if args.threads:
        torch.set_num_threads(args.threads)
    from neuroplast.compression.bench import matmul_gflops
    from neuroplast.engine import Engine
    from neuroplast.inference.choice import cpu_model

    env = {**environment(), "cpu": cpu_model()}
    print_environment(env)
    peak = matmul_gflops()
    console.print(f"fp32 matmul (1024x1024, {torch.get_num_threads()} threads): {peak:.1f} GFLOP/s")
    results: dict[str, Any] = {"environment": env, "matmul_gflops": peak, "models": {}}
    archs = [a for a in args.archs.split(",") if a]
    with tempfile.TemporaryDirectory(prefix="np-bench-") as tmp, Engine(tmp) as engine:
        for arch in archs:
            if arch == "image_cnn":
                limit = 1500 if args.quick else args.image_limit
                config = image_config(epochs=args.epochs, limit=limit)
            else:
                config = text_config(arch, epochs=args.epochs, limit=1500 if args.quick else None)
            started = time.perf_counter()
            outcome = engine.train(config)
            console.print(
                f"trained {outcome.version.ref} in {time.perf_counter() - started:.0f} s "
                f"(test accuracy {outcome.test.accuracy:.3f})"
            )
            r = measure(engine, outcome.version.ref, args)
            results["models"][arch] = r
            console.print(
                f"{arch}: auto measured in {r['auto_seconds']:.1f} s: {r['auto_summary']}"
            )
        if "cnn" in archs:
            results["memory"] = rss(engine, "bench-cnn", Path(tmp))
    rows = []
    for arch, r in results["models"].items():
        b64 = r["sizes"][64]
        achieved = r["flops_per_sample"] * 1000.0 / b64["predictor_ms"] / 1e9
        r["achieved_gflops"], r["achieved_fraction"] = achieved, achieved / peak
        for size, m in r["sizes"].items():
            goal = 2.0 if size == 1 else 1.0
            rows.append(
                [
                    arch if size == 1 else "",
                    str(size),
                    m["lane"] or "",
                    f"{m['eager_ms']:.4f} ± {m['eager_spread_ms']:.4f}",
                    f"{m['predictor_ms']:.4f} ± {m['predictor_spread_ms']:.4f}",
                    f"{m['speedup']:.2f}x",
                    f"{'met' if m['speedup'] >= goal else 'MISSED'} ({goal:g}x)",
                    f"{r['flops_per_sample'] / 1e6:.1f}" if size == 1 else "",
                    f"{achieved:.2f} ({achieved / peak:.0%})" if size == 64 else "",
                ]
            )
    print_table(
        f"eager fp32 vs Predictor(auto) on {env['cpu']}, {torch.get_num_threads()} torch "
        f"threads, ms per input, median of {args.repeats} interleaved repeats "
        "(goal: batch 1 >= 2x, every batch >= 1x)",
        [
            "arch",
            "batch",
            "auto runs",
            "eager ms",
            "Predictor ms",
            "speed-up",
            "goal",
            "MFLOP/sample",
            "GFLOP/s at 64",
        ],
        rows,
    )
    if "memory" in results:
        m = results["memory"]
        console.print(
            f"ONNX text CNN process: peak RSS {m['peak_rss_mb']:.1f} MB after 1,000 predictions "
            f"(goal <= 120 MB; torch imported: {m['torch_imported']}; load "
            f"{m['load_seconds']:.2f} s, 1,000 predictions {m['seconds_for_1000']:.2f} s); "
            f"a bare ONNX Runtime process running the same model: "
            f"{m['bare_onnxruntime_rss_mb']:.1f} MB; one that only imports torch: "
            f"{m['torch_import_only_rss_mb']:.1f} MB"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
