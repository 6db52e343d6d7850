"""Fine-tuning all-MiniLM-L6-v2 (``model.architecture: minilm``): accuracy, train time, ONNX.

Each subcommand is one chunk of work to run in a CPU slot (``/tmp/s4/heavy`` on the shared
machine) and appends its figures to ``--out`` (JSON lines):

    python benchmarks/bench_minilm.py tokens
    python benchmarks/bench_minilm.py train --mode full --epochs 2 --lr 6e-5 --slices 4 \
        --epochs-per-job 1 --checkpoint-dir /tmp/enc_bench/ckpt-full   # run 8 times
    python benchmarks/bench_minilm.py train --mode lora --epochs 3 --lr 1e-3 \
        --lora-targets query,key,value,dense --epochs-per-job 1 --checkpoint-dir DIR
    python benchmarks/bench_minilm.py train --mode head --epochs 4 --lr 3e-3
    python benchmarks/bench_minilm.py --dataset bbc_news --max-length 128 probe
    python benchmarks/bench_minilm.py checkpoint --mode full --checkpoint-dir DIR
    python benchmarks/bench_minilm.py onnx --weights /tmp/enc_bench/rotten_tomatoes-full.safetensors

The split is the text templates' (``data.seed`` 13, 10 % validation, 10 % test); the test
split is always evaluated whole. ``--train-rows`` trains on a stratified random subset of
the training split (seeded). A run too long for one job checkpoints with
``--checkpoint-dir`` and stops after ``--epochs-per-job`` Trainer epochs; the same command
resumes it (``--slices K`` makes each epoch K Trainer epochs under one schedule, so a job
is a K-th of an epoch); ``checkpoint`` tests the newest checkpoint of a run not finished.
``probe`` (``_minilm_probe.py``) trains the ``head`` mode's linear head on saved features
over a grid of learning rates x epochs x L2-normalisation. ``onnx`` loads the fine-tuned
weights, exports them (fp32 and dynamic int8, as ``neuroplast export-onnx --int8`` does)
and times eager ``transformers`` (the model's own forward on ready tensors) against the
Predictor on ONNX Runtime (raw text in, tokenization included) at batch 1 and 32,
interleaved, median of repeats; the test accuracy of each is measured on the whole test
split.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _common import console, environment, print_environment
from _minilm_probe import cmd_probe
from _minilm_runs import (
    Slices,
    StopAfter,
    accuracy,
    cmd_checkpoint,
    load_data,
    model_config,
    subset,
)
from neuroplast.config import TrainConfig
from neuroplast.data import load_builtin
from neuroplast.models import count_parameters, create_model
from neuroplast.models.minilm import MiniLMClassifier, minilm_vocabulary
from neuroplast.training import Trainer

OUT = Path("/tmp/enc_bench")


def cmd_tokens(args: argparse.Namespace) -> dict[str, Any]:
    vocab = minilm_vocabulary()
    out: dict[str, Any] = {}
    for name in ("rotten_tomatoes", "bbc_news"):
        lengths = np.array([len(ids) for ids in vocab.encode_batch(load_builtin(name).texts)])
        pct = np.percentile(lengths, [50, 90, 99, 99.9, 100]).round(1).tolist()
        out[name] = dict(zip(["p50", "p90", "p99", "p99.9", "max"], pct, strict=True))
        console.print(f"{name}: WordPiece tokens per text incl. [CLS]/[SEP]: {out[name]}")
    return out


def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    data = load_data(args.dataset, args.max_length)
    subset(data, args.train_rows, args.seed)
    config = model_config(args, len(data.label_names))
    torch.manual_seed(args.seed)
    model = create_model("minilm", config)
    train = TrainConfig(
        epochs=args.epochs * args.slices,
        batch_size=args.batch_size,
        optimizer={"name": "adamw", "lr": args.lr, "weight_decay": 0.01},
        scheduler={"name": "onecycle", "pct_start": args.warmup},
        early_stopping={"enabled": False},
        seed=args.seed,
        num_threads=args.threads,
    )
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        if done % 25 == 0 or done == total:
            console.print(
                f"  {stage} batch {done}/{total} at {time.perf_counter() - started:.0f} s"
            )

    ckpt = args.checkpoint_dir
    if ckpt is not None:
        ckpt.mkdir(parents=True, exist_ok=True)
    resume = ckpt / "last.json" if ckpt is not None and (ckpt / "last.json").exists() else None
    stop = StopAfter(args.epochs_per_job)
    trainer = Trainer(train, progress=progress, checkpoint_dir=ckpt, callbacks=[stop])
    loader: Any = data.loader("train", batch_size=args.batch_size, shuffle=True)
    if args.slices > 1:
        loader = Slices(loader, args.slices)
    history = trainer.fit(model, loader, resume_from=resume)
    fit_seconds = time.perf_counter() - started
    if history[-1].epoch < args.epochs * args.slices:
        result = {"mode": args.mode, "partial": True, "epochs_done": history[-1].epoch}
        result["seconds_per_epoch"] = [round(m.seconds or 0.0, 1) for m in history]
        result["train_loss"] = [round(m.train_loss, 4) for m in history]
        console.print(result)
        return result
    return _finish(args, data, model, history, fit_seconds)


def _finish(
    args: argparse.Namespace, data: Any, model: Any, history: list[Any], fit_seconds: float
) -> dict[str, Any]:
    """Test a finished run on the whole test split, save its weights, and report."""
    config = model.config.model_dump(mode="json")
    tested = time.perf_counter()
    test_accuracy = accuracy(model, data, "test")
    test_seconds = time.perf_counter() - tested
    OUT.mkdir(parents=True, exist_ok=True)
    weights = OUT / f"{args.dataset}-{args.mode}{args.tag}.safetensors"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    result = {
        "mode": args.mode,
        "dataset": args.dataset,
        "train_rows": len(data.train_idx),
        "test_rows": len(data.test_idx),
        "max_length": args.max_length,
        "epochs": args.epochs,
        "lr": args.lr,
        "warmup": args.warmup,
        "slices": args.slices,
        "lora": config["lora"] if args.mode == "lora" else None,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "test_accuracy": round(test_accuracy, 4),
        "train_loss": [round(m.train_loss, 4) for m in history],
        "seconds_per_epoch": [round(m.seconds or 0.0, 1) for m in history],
        "samples_per_sec": [round(m.samples_per_sec or 0.0, 1) for m in history],
        "fit_seconds": round(fit_seconds, 1),
        "test_seconds": round(test_seconds, 1),
        "parameters": count_parameters(model),
        "trainable": count_parameters(model, trainable_only=True),
        "weights": str(weights),
    }
    result["trainable_share"] = round(result["trainable"] / result["parameters"], 5)
    console.print(result)
    return result


def _timed(call: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cmd_onnx(args: argparse.Namespace) -> dict[str, Any]:
    from neuroplast.inference.bundle import LoadedModel
    from neuroplast.inference.meta import ModelMeta
    from neuroplast.inference.onnx_export import export_onnx_bytes, quantize_onnx_int8
    from neuroplast.inference.onnx_predictor import OnnxPredictor
    from neuroplast.inference.predictor import Predictor

    torch.set_num_threads(args.threads)
    data = load_data(args.dataset, args.max_length)
    model = create_model("minilm", {"num_classes": len(data.label_names)})
    from safetensors.torch import load_file

    model.load_state_dict(load_file(args.weights))
    model.eval()
    meta = ModelMeta(
        architecture="minilm",
        modality="text",
        task="text_classification",
        arch_config={"num_classes": len(data.label_names)},
        label_names=data.label_names,
        preprocessing={"max_length": args.max_length, "min_length": 1},
    )
    vocab = data.vocab
    started = time.perf_counter()
    fp32 = export_onnx_bytes(model, meta)
    int8 = quantize_onnx_int8(fp32)
    export_seconds = time.perf_counter() - started
    predictors = {
        "onnx": OnnxPredictor(fp32, meta, vocab, threads=args.threads),
        "onnx-int8": OnnxPredictor(int8, meta, vocab, int8=True, threads=args.threads),
    }
    texts, labels = data.texts("test"), data.labels("test")
    result: dict[str, Any] = {"export_seconds": round(export_seconds, 1), "threads": args.threads}
    result["accuracy"] = {}  # eager's is the train chunk's test_accuracy (same weights)
    for name, predictor in predictors.items():
        predicted = predictor.predict_proba(texts).argmax(axis=1)
        result["accuracy"][name] = round(float((predicted == labels).mean()), 4)
    console.print(result)
    eager = Predictor(LoadedModel(model, meta, vocab), batch_size=256)
    ids = vocab.encode_batch(texts, max_length=args.max_length) if vocab else []
    result["timing"] = _timings(model, eager, predictors, texts, ids, args.repeats)
    result["sizes_mb"] = {"onnx": len(fp32) / 1e6, "onnx-int8": len(int8) / 1e6}
    console.print(result)
    return result


def _timings(
    model: MiniLMClassifier,
    eager: Any,
    predictors: dict[str, Any],
    texts: list[str],
    ids: list[list[int]],
    repeats: int,
) -> dict[str, Any]:
    """ms per input at batch 1 and 32: eager forward on ready tensors, the torch Predictor
    and the ONNX Predictors on raw text; rounds interleaved, median per batch."""
    out: dict[str, Any] = {}
    for batch in (1, 32):
        rows = list(range(0, 32 * 8, batch))[: 64 // batch + 4]
        medians: dict[str, list[float]] = {}
        for start in rows:
            chunk_ids = ids[start : start + batch]
            chunk_texts = texts[start : start + batch]
            x = torch.zeros(len(chunk_ids), max(map(len, chunk_ids)), dtype=torch.long)
            for i, row in enumerate(chunk_ids):
                x[i, : len(row)] = torch.tensor(row)
            with torch.inference_mode():
                calls = {"eager transformers": lambda x=x: model(x)}
            calls["predictor torch"] = lambda t=chunk_texts: eager.predict_proba(t)
            for name, predictor in predictors.items():
                calls[f"predictor {name}"] = lambda t=chunk_texts, p=predictor: p.predict_proba(t)
            for name, call in calls.items():
                if name == "eager transformers":
                    with torch.inference_mode():
                        seconds = _timed(call, repeats)
                else:
                    seconds = _timed(call, repeats)
                medians.setdefault(name, []).append(1000 * seconds / batch)
        per_input = {k: round(statistics.median(v), 3) for k, v in medians.items()}
        base = per_input["eager transformers"]
        out[f"batch_{batch}"] = {
            "ms_per_input": per_input,
            "speedup_vs_eager": {k: round(base / v, 2) for k, v in per_input.items()},
            "chunks": len(rows),
        }
        console.print(batch, out[f"batch_{batch}"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT / "results.jsonl")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dataset", default="rotten_tomatoes")
    parser.add_argument("--max-length", type=int, default=64)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("tokens")
    train = sub.add_parser("train")
    train.add_argument("--mode", choices=["full", "head", "lora"], required=True)
    train.add_argument("--train-rows", type=int, default=None)
    train.add_argument("--epochs", type=int, default=1)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--lr", type=float, default=5e-5)
    train.add_argument("--layer-lr-decay", type=float, default=1.0)
    train.add_argument("--seed", type=int, default=42)
    train.add_argument("--tag", default="", help="suffix of the saved weights' name")
    train.add_argument("--warmup", type=float, default=0.1, help="onecycle pct_start")
    train.add_argument("--lora-rank", type=int, default=8)
    train.add_argument("--lora-alpha", type=float, default=16.0)
    train.add_argument("--lora-targets", default="query,value")
    train.add_argument("--checkpoint-dir", type=Path, default=None)
    train.add_argument(
        "--slices", type=int, default=1, help="cut each epoch into this many Trainer epochs"
    )
    train.add_argument(
        "--epochs-per-job", type=int, default=None, help="stop after this many (resume later)"
    )
    ckpt = sub.add_parser("checkpoint")
    ckpt.add_argument("--mode", choices=["full", "head", "lora"], required=True)
    ckpt.add_argument("--checkpoint-dir", type=Path, required=True)
    ckpt.add_argument("--lora-rank", type=int, default=8)
    ckpt.add_argument("--lora-alpha", type=float, default=16.0)
    ckpt.add_argument("--lora-targets", default="query,value")
    probe = sub.add_parser("probe")
    probe.add_argument("--lrs", type=float, nargs="+", default=[3e-3, 1e-2, 3e-2])
    probe.add_argument("--epoch-grid", type=int, nargs="+", default=[4, 20, 60])
    onnx = sub.add_parser("onnx")
    onnx.add_argument("--weights", type=Path, required=True)
    onnx.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = environment()
    print_environment(env)
    commands = {"tokens": cmd_tokens, "train": cmd_train, "probe": cmd_probe, "onnx": cmd_onnx}
    commands["checkpoint"] = cmd_checkpoint
    command = commands[args.command]
    result = {"command": args.command, "environment": env, **command(args)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", encoding="utf-8") as f:
        f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
