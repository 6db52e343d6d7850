"""Why ``finetune: head`` scores what it does (``bench_minilm.py probe``): the frozen
encoder's pooled features of every split, computed once and saved, then the same linear
head trained on them over a grid of learning rate x epochs x L2-normalisation."""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from _common import console
from _minilm_runs import load_data
from neuroplast.data.prepare import PreparedData
from neuroplast.models import create_model

__all__ = ["cmd_probe"]


def _features(args: argparse.Namespace, data: PreparedData) -> dict[str, torch.Tensor]:
    """The frozen encoder's pooled features of every split (read back when saved before)."""
    from safetensors.torch import load_file, save_file

    path = args.out.parent / f"features-{args.dataset}-{args.max_length}.safetensors"
    if path.exists():
        return load_file(str(path))
    model = create_model("minilm", {"num_classes": len(data.label_names), "finetune": "head"})
    model.eval()
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for split in ("train", "val", "test"):
            xs, ys = [], []
            for x, y in data.loader(split, batch_size=32, shuffle=False):
                xs.append(model.encode(x))
                ys.append(y)
            out[f"{split}_x"], out[f"{split}_y"] = torch.cat(xs), torch.cat(ys)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(path))
    return out


def _fit_head(
    feats: dict[str, torch.Tensor], lr: float, epochs: int, normalize: bool, classes: int
) -> dict[str, float]:
    """A linear head on fixed features as ``finetune: head`` trains it (AdamW, onecycle,
    dropout 0.1, batch 32); ``normalize`` L2-normalises the features first."""

    def prep(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(x, dim=-1) if normalize else x

    torch.manual_seed(0)
    head = torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(x_dim(feats), classes))
    x, y = prep(feats["train_x"]), feats["train_y"]
    steps = epochs * -(-len(y) // 32)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    loss = torch.tensor(0.0)
    for _ in range(epochs):
        head.train()
        order = torch.randperm(len(y))
        total = 0.0
        for start in range(0, len(y), 32):
            idx = order[start : start + 32]
            loss = torch.nn.functional.cross_entropy(head(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
    head.eval()
    with torch.no_grad():
        acc = {
            s: float((head(prep(feats[f"{s}_x"])).argmax(-1) == feats[f"{s}_y"]).float().mean())
            for s in ("val", "test")
        }
    return {"train_loss": round(total / len(y), 4), **{k: round(v, 4) for k, v in acc.items()}}


def x_dim(feats: dict[str, torch.Tensor]) -> int:
    return int(feats["train_x"].shape[1])


def cmd_probe(args: argparse.Namespace) -> dict[str, Any]:
    """Why ``head`` scores what it does: the same linear head on the cached features over a
    grid of lr x epochs x L2-normalisation, and the class balance and feature norms."""
    torch.set_num_threads(args.threads)
    data = load_data(args.dataset, args.max_length)
    started = time.perf_counter()
    feats = _features(args, data)
    result: dict[str, Any] = {"dataset": args.dataset, "max_length": args.max_length}
    result["feature_seconds"] = round(time.perf_counter() - started, 1)
    result["train_counts"] = torch.bincount(feats["train_y"]).tolist()
    result["feature_norm_median"] = round(float(feats["train_x"].norm(dim=1).median()), 3)
    classes = len(data.label_names)
    grid = []
    for lr in args.lrs:
        for epochs in args.epoch_grid:
            for normalize in (False, True):
                fit = _fit_head(feats, lr, epochs, normalize, classes)
                row = {"lr": lr, "epochs": epochs, "normalize": normalize, **fit}
                console.print(row)
                grid.append(row)
    result["grid"] = grid
    return result
