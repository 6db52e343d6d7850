"""Inference speed and memory: eager PyTorch against the Predictor with ``backend="auto"``.

For each of the four text architectures (Rotten Tomatoes, 10k vocabulary, 50 tokens, each
architecture's default widths) and the image CNN (Fashion-MNIST), the script trains a model
for a short while (so that ``auto``'s agreement check sees real decisions), registers it,
then times on real test inputs, in one process, interleaved over repeats:

  (a) eager PyTorch fp32 called directly on ready tensors (tokenized beforehand), and
  (b) the Predictor with ``backend="auto"`` on raw texts / uint8 images (tokenization and
      pre-processing included).

It also prints each model's forward FLOPs per sample (``torch.utils.flop_counter``), the
machine's fp32 matmul GFLOP/s and the fraction of it the Predictor achieves at batch 64, and
the peak RSS of a separate process that loads the ONNX backend of the text CNN (no torch)
and answers 1,000 single predictions.

    .venv/bin/python benchmarks/bench_inference.py [--quick] [--threads N] [--json out.json]
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


def measure(engine: Any, ref: str, args: argparse.Namespace) -> dict[str, Any]:
    from neuroplast.compression._data import model_data, split_inputs
    from neuroplast.compression.bench import eager_tensors, flops_per_sample, speed_compare
    from neuroplast.compression.predictors import registered_predictor
    from neuroplast.workflows.report import load_registered

    _, loaded = load_registered(engine.registry, ref)
    started = time.perf_counter()
    predictor = registered_predictor(engine.registry, ref, backend="auto", threads=args.threads)
    choose_seconds = time.perf_counter() - started
    data = model_data(loaded.meta, loaded.vocab)
    test = split_inputs(data, "test", limit=args.inputs)
    result = speed_compare(loaded, predictor, test.inputs, repeats=args.repeats)
    sample = eager_tensors(loaded, test.inputs[:64])
    if sample[0].dtype == torch.long:
        width = max(t.size(1) for t in sample)
        batch = torch.zeros((len(sample), width), dtype=torch.long)
        for i, t in enumerate(sample):
            batch[i, : t.size(1)] = t[0]
    else:
        batch = torch.cat(sample)
    return {
        **result.to_dict(),
        "architecture": loaded.meta.architecture,
        "flops_per_sample": flops_per_sample(loaded.model, batch),
        "auto_seconds": choose_seconds,
        "auto": [t.__dict__ for t in predictor.timings],
        "inputs": len(test),
    }


def rss(engine: Any, ref: str, work: Path) -> dict[str, Any]:
    from neuroplast.compression._data import model_data, split_inputs
    from neuroplast.compression.export import export_version
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
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--inputs", type=int, default=640, help="test inputs timed per model")
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

    env = environment()
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
            results["models"][arch] = measure(engine, outcome.version.ref, args)
        if "cnn" in archs:
            results["memory"] = rss(engine, "bench-cnn", Path(tmp))
    rows = []
    for arch, r in results["models"].items():
        achieved = r["flops_per_sample"] * r["predictor_batch_per_s"] / 1e9
        r["achieved_gflops"], r["achieved_fraction"] = achieved, achieved / peak
        rows.append(
            [
                arch,
                r["backend"],
                f"{r['eager_batch1_ms']:.3f}",
                f"{r['predictor_batch1_ms']:.3f}",
                f"{r['batch1_speedup']:.2f}x",
                "met" if r["batch1_speedup"] >= 2.0 else "MISSED",
                f"{r['eager_batch_per_s']:.0f}",
                f"{r['predictor_batch_per_s']:.0f}",
                f"{r['batch_speedup']:.2f}x",
                "met" if r["batch_speedup"] >= 1.0 else "MISSED",
                f"{r['flops_per_sample'] / 1e6:.1f}",
                f"{achieved:.2f} ({achieved / peak:.1%})",
            ]
        )
    print_table(
        f"eager fp32 vs Predictor(auto), median of {args.repeats} interleaved repeats "
        "(goal: batch-1 >= 2x, batch-64 >= 1x)",
        [
            "arch",
            "auto chose",
            "eager b1 ms",
            "Predictor b1 ms",
            "b1 speed-up",
            "goal",
            "eager b64 /s",
            "Predictor b64 /s",
            "b64 speed-up",
            "goal",
            "MFLOP/sample",
            "GFLOP/s achieved",
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
