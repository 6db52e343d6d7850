"""Training benchmark: neuroplast's Trainer against a hand-written PyTorch loop, on CPU.

Part A (loop overhead): every text architecture at several batch sizes trains on the same
fixed-length tensors (real rotten_tomatoes reviews, 10k vocabulary, truncated / padded to 50
tokens) with the engine and with a plain loop doing the same work; goal: engine / baseline
throughput >= 0.95.

Part B (variable-length text): on real rotten_tomatoes, the engine with its own data path
(dynamic padding + length bucketing) against a plain loop that pads every batch to the
maximum length; goal: a >= 1.5x shorter epoch at the same test accuracy.

    .venv/bin/python benchmarks/bench_training.py --json benchmarks/results.json
    .venv/bin/python benchmarks/bench_training.py --quick
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from _common import console, environment, print_environment, print_table, summary, write_json
from neuroplast.config import TrainConfig
from neuroplast.data import Vocabulary, load_builtin, stratified_split, text_loader
from neuroplast.data.splits import stratified_subsample
from neuroplast.evaluation import evaluate_model
from neuroplast.models import create_model
from neuroplast.training import Trainer

TEXT_ARCHS = ("transformer", "lstm", "cnn", "hybrid")
LR, WEIGHT_DECAY, GRAD_CLIP = 1e-3, 0.01, 1.0  # TrainConfig's AdamW defaults and clipping
OVERHEAD_VOCAB, OVERHEAD_LENGTH = 10_000, 50
RT_SPLIT_SEED, RT_MAX_LENGTH, RT_BATCH_SIZE, RT_EVAL_BATCH_SIZE = 13, 64, 64, 256
FULL = {"batch_sizes": "32,64,128", "repeats": 5, "samples": 640, "rt_epochs": 3}
QUICK = {"batch_sizes": "64", "repeats": 2, "samples": 128, "rt_epochs": 1, "rt_limit": 1500}
OVERHEAD_GOAL, SPEEDUP_GOAL = 0.95, 1.5


# ---- shared pieces ---------------------------------------------------------------------------
def make_model(arch: str, vocab_size: int, seed: int) -> nn.Module:
    """A fresh text model with the architecture's defaults, initialised from ``seed``."""
    torch.manual_seed(seed)
    return create_model(arch, {"vocab_size": vocab_size, "num_classes": 2})


def min_length(model: nn.Module) -> int:
    """Shortest batch width the model accepts (a width-5 convolution needs 5 tokens)."""
    return max([1, *getattr(getattr(model, "config", None), "filter_sizes", ())])


def pad_ids(ids: Sequence[Sequence[int]], length: int) -> Tensor:
    """Token id lists truncated / right-padded with 0 to exactly ``length`` columns."""
    out = torch.zeros((len(ids), length), dtype=torch.long)
    for row, seq in enumerate(ids):
        seq = seq[:length]
        out[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return out


def padded_loader(x: Tensor, y: Tensor, batch_size: int, seed: int | None) -> DataLoader[Any]:
    """The baseline's loader: fixed-width tensors; shuffled by a seeded generator if seed."""
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    dataset = TensorDataset(x, y)
    return DataLoader(dataset, batch_size=batch_size, shuffle=seed is not None, generator=generator)


def engine_config(batch_size: int, epochs: int, seed: int, threads: int) -> TrainConfig:
    return TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        optimizer={"name": "adamw", "lr": LR, "weight_decay": WEIGHT_DECAY},
        scheduler={"name": "none"},
        grad_clip=GRAD_CLIP,
        early_stopping={"enabled": False},
        precision="32-true",
        accelerator="cpu",
        seed=seed,
        num_threads=threads,
    )


def baseline_fit(model: nn.Module, loader: DataLoader[Any], epochs: int, seed: int) -> list[float]:
    """The hand-written loop; returns the seconds of each epoch."""
    torch.manual_seed(seed)  # the engine seeds here too (dropout draws the same masks)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    model.train()
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        for inputs, targets in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(inputs), targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    return seconds


def fmt_range(stats: dict[str, float], spec: str = ".0f") -> str:
    return f"{stats['min']:{spec}}-{stats['max']:{spec}}"


# ---- Part A: loop overhead -------------------------------------------------------------------
def engine_throughput(
    arch: str, bs: int, x: Tensor, y: Tensor, vocab_size: int, args: argparse.Namespace
) -> float:
    """Samples/s of one engine run: a fresh model, timed around ``Trainer.fit``."""
    model = make_model(arch, vocab_size, args.seed)
    trainer = Trainer(engine_config(bs, 1, args.seed, args.threads))
    loader = padded_loader(x, y, bs, args.seed)
    start = time.perf_counter()
    trainer.fit(model, loader)
    return len(y) / (time.perf_counter() - start)


def baseline_throughput(
    arch: str, bs: int, x: Tensor, y: Tensor, vocab_size: int, args: argparse.Namespace
) -> float:
    """Samples/s of one hand-written run on the same data, timed from optimizer creation."""
    model = make_model(arch, vocab_size, args.seed)
    loader = padded_loader(x, y, bs, args.seed)
    start = time.perf_counter()
    baseline_fit(model, loader, 1, args.seed)
    return len(y) / (time.perf_counter() - start)


def measure_pair(
    arch: str, bs: int, x: Tensor, y: Tensor, vocab_size: int, args: argparse.Namespace
) -> dict[str, list[float]]:
    """One untimed warm-up of each, then ``args.repeats`` interleaved timed repeats."""
    runs = {"engine": engine_throughput, "baseline": baseline_throughput}
    for run in runs.values():
        run(arch, bs, x, y, vocab_size, args)  # warm-up: allocator, oneDNN kernels, imports
    timed: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(args.repeats):
        order = list(runs) if repeat % 2 == 0 else list(runs)[::-1]  # ABBA cancels drift
        for name in order:
            timed[name].append(runs[name](arch, bs, x, y, vocab_size, args))
    return timed


def part_a(
    texts: list[str], labels: np.ndarray, args: argparse.Namespace, archs: list[str]
) -> list[dict[str, Any]]:
    vocab = Vocabulary.build(texts, max_size=OVERHEAD_VOCAB)
    rng = np.random.default_rng(args.seed)
    rows = rng.choice(len(texts), size=args.samples, replace=args.samples > len(texts))
    x = pad_ids(vocab.encode_batch([texts[i] for i in rows]), OVERHEAD_LENGTH)
    y = torch.as_tensor(labels[rows], dtype=torch.long)
    n = len(y)
    console.print(
        f"\n[bold]Part A[/bold]: {n} real reviews per repeat, {OVERHEAD_LENGTH} tokens each "
        f"({float((x != 0).sum(1).float().mean()):.1f} real on average), vocabulary "
        f"{len(vocab)}, fp32, {args.repeats} timed repeats after 1 warm-up, interleaved"
    )
    results = []
    for arch in archs:
        for bs in args.batch_sizes:
            timed = measure_pair(arch, bs, x, y, len(vocab), args)
            eng, base = summary(timed["engine"]), summary(timed["baseline"])
            paired = [e / b for e, b in zip(timed["engine"], timed["baseline"], strict=True)]
            results.append(
                {
                    "arch": arch,
                    "batch_size": bs,
                    "engine_samples_per_s": eng,
                    "baseline_samples_per_s": base,
                    "ratio": eng["median"] / base["median"],
                    "paired_ratio": summary(paired),
                    "raw": timed,
                }
            )
            console.print(f"  done: {arch} batch {bs}")
    print_table(
        f"Part A - loop overhead (samples/s, median of {args.repeats}; goal ratio >= "
        f"{OVERHEAD_GOAL})",
        ["arch", "batch", "engine", "range", "baseline", "range", "ratio", "paired", "goal"],
        [
            [
                r["arch"],
                str(r["batch_size"]),
                f"{r['engine_samples_per_s']['median']:.0f}",
                fmt_range(r["engine_samples_per_s"]),
                f"{r['baseline_samples_per_s']['median']:.0f}",
                fmt_range(r["baseline_samples_per_s"]),
                f"{r['ratio']:.3f}",
                fmt_range(r["paired_ratio"], ".2f"),
                "met" if r["ratio"] >= OVERHEAD_GOAL else "MISSED",
            ]
            for r in results
        ],
    )
    console.print("ratio = median engine / median baseline; paired = range of per-repeat ratios")
    return results


# ---- Part B: real variable-length text -------------------------------------------------------
def part_b(
    texts: list[str],
    labels: np.ndarray,
    label_names: list[str],
    args: argparse.Namespace,
    archs: list[str],
) -> list[dict[str, Any]]:
    if args.rt_limit is not None:
        keep = stratified_subsample(labels, args.rt_limit, seed=RT_SPLIT_SEED)
        texts, labels = [texts[i] for i in keep], labels[keep]
    train, _, test = stratified_split(
        labels, val_fraction=0.1, test_fraction=0.1, seed=RT_SPLIT_SEED
    )
    vocab = Vocabulary.build([texts[i] for i in train], max_size=20000, min_freq=2)
    ids = vocab.encode_batch(texts, max_length=RT_MAX_LENGTH)
    train_ids, test_ids = [ids[i] for i in train], [ids[i] for i in test]
    y_train, y_test = labels[train], labels[test]
    x_train64, x_test64 = pad_ids(train_ids, RT_MAX_LENGTH), pad_ids(test_ids, RT_MAX_LENGTH)
    t_train, t_test = torch.as_tensor(y_train), torch.as_tensor(y_test)
    lengths = np.array([len(s) for s in train_ids])
    console.print(
        f"\n[bold]Part B[/bold]: rotten_tomatoes, {len(train)} train / {len(test)} test rows, "
        f"vocabulary {len(vocab)}, max_length {RT_MAX_LENGTH} (mean real length "
        f"{lengths.mean():.1f}), batch {RT_BATCH_SIZE}, {args.rt_epochs} epoch(s), AdamW lr {LR}"
    )
    results = []
    for arch in archs:
        model = make_model(arch, len(vocab), args.seed)
        width = min_length(model)
        loader = text_loader(
            train_ids,
            y_train,
            batch_size=RT_BATCH_SIZE,
            shuffle=True,
            seed=args.seed,
            min_length=width,
        )
        widths = [max(width, int(lengths[b].max())) for b in loader.batch_sampler.batches(1)]
        trainer = Trainer(engine_config(RT_BATCH_SIZE, args.rt_epochs, args.seed, args.threads))
        engine_seconds = [float(m.seconds or 0.0) for m in trainer.fit(model, loader)]
        test_loader = text_loader(
            test_ids, y_test, batch_size=RT_EVAL_BATCH_SIZE, shuffle=False, min_length=width
        )
        engine_acc = evaluate_model(model, test_loader, label_names).accuracy

        model = make_model(arch, len(vocab), args.seed)
        loader64 = padded_loader(x_train64, t_train, RT_BATCH_SIZE, args.seed)
        baseline_seconds = baseline_fit(model, loader64, args.rt_epochs, args.seed)
        test64 = padded_loader(x_test64, t_test, RT_EVAL_BATCH_SIZE, None)
        baseline_acc = evaluate_model(model, test64, label_names).accuracy

        eng, base = summary(engine_seconds), summary(baseline_seconds)
        results.append(
            {
                "arch": arch,
                "engine_epoch_s": eng,
                "baseline_epoch_s": base,
                "speedup": base["median"] / eng["median"],
                "engine_test_accuracy": engine_acc,
                "baseline_test_accuracy": baseline_acc,
                "engine_mean_batch_width": float(np.mean(widths)),
                "baseline_batch_width": RT_MAX_LENGTH,
                "raw": {"engine": engine_seconds, "baseline": baseline_seconds},
            }
        )
        console.print(f"  done: {arch}")
    print_table(
        f"Part B - real variable-length text (median epoch seconds; goal speed-up >= "
        f"{SPEEDUP_GOAL}x at equal accuracy)",
        ["arch", "engine s", "baseline s", "speed-up", "goal", "width", "engine acc", "base acc"],
        [
            [
                r["arch"],
                f"{r['engine_epoch_s']['median']:.2f}",
                f"{r['baseline_epoch_s']['median']:.2f}",
                f"{r['speedup']:.2f}x",
                "met" if r["speedup"] >= SPEEDUP_GOAL else "MISSED",
                f"{r['engine_mean_batch_width']:.1f}/{RT_MAX_LENGTH}",
                f"{r['engine_test_accuracy']:.3f}",
                f"{r['baseline_test_accuracy']:.3f}",
            ]
            for r in results
        ],
    )
    console.print(
        "speed-up = baseline epoch / engine epoch; width = mean engine batch width / the "
        "baseline's; accuracy on the same test rows"
    )
    return results


# ---- main ------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small, about 2 minutes")
    parser.add_argument("--archs", help=f"comma-separated subset of {','.join(TEXT_ARCHS)}")
    parser.add_argument("--batch-sizes", help=f"Part A batch sizes (default {FULL['batch_sizes']})")
    parser.add_argument("--repeats", type=int, help="Part A timed repeats (default 5)")
    parser.add_argument("--samples", type=int, help="Part A samples per repeat (default 640)")
    parser.add_argument("--rt-epochs", type=int, help="Part B epochs (default 3)")
    parser.add_argument("--rt-limit", type=int, help="Part B: subsample to N rows")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--seed", type=int, default=42, help="model / shuffle seed")
    parser.add_argument("--skip", choices=["a", "b"], help="skip Part A or Part B")
    parser.add_argument("--json", type=Path, help="also write all results to this JSON file")
    args = parser.parse_args(argv)
    defaults = {**FULL, "rt_limit": None, **(QUICK if args.quick else {})}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.archs = args.archs.split(",") if args.archs else list(TEXT_ARCHS)
    unknown = sorted(set(args.archs) - set(TEXT_ARCHS))
    if unknown:
        parser.error(f"unknown architecture(s) {unknown}; choose from {', '.join(TEXT_ARCHS)}")
    args.batch_sizes = [int(b) for b in str(args.batch_sizes).split(",")]
    if min(args.repeats, args.samples, args.rt_epochs, args.threads, *args.batch_sizes) < 1:
        parser.error("--repeats, --samples, --rt-epochs, --threads and batch sizes must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    env = environment()
    print_environment(env)
    data = load_builtin("rotten_tomatoes")
    texts, labels = list(data.texts), np.asarray(data.labels)
    started = time.perf_counter()
    settings = vars(args) | {"json": None if args.json is None else str(args.json)}
    results: dict[str, Any] = {"environment": env, "settings": settings}
    if args.skip != "a":
        results["loop_overhead"] = part_a(texts, labels, args, args.archs)
    if args.skip != "b":
        results["variable_length"] = part_b(texts, labels, list(data.label_names), args, args.archs)
    console.print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if args.json is not None:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
