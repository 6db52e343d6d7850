"""Shared parts of ``bench_minilm.py``: the data split, accuracy, the model config from the
command line, and resumable training in slices (a job under the shared CPU slots stops
after a slice; the next job resumes from the checkpoint)."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch

from _common import console
from neuroplast.config import DataConfig
from neuroplast.data.prepare import PreparedData, prepare
from neuroplast.models import create_model
from neuroplast.models.minilm import minilm_vocabulary
from neuroplast.training import Trainer
from neuroplast.training.callbacks import Callback

__all__ = [
    "Slices",
    "StopAfter",
    "accuracy",
    "cmd_checkpoint",
    "load_data",
    "model_config",
    "subset",
]


def load_data(dataset: str, max_length: int) -> PreparedData:
    cfg = DataConfig(dataset=dataset, max_length=max_length, seed=13)
    return prepare(cfg, vocab=minilm_vocabulary())


def subset(data: PreparedData, rows: int | None, seed: int) -> None:
    """Keep ``rows`` of the training split, stratified by class (in place)."""
    if rows is None or rows >= len(data.train_idx):
        return
    rng = np.random.default_rng(seed)
    labels = data.raw.labels[data.train_idx]
    keep: list[int] = []
    for label in np.unique(labels):
        members = data.train_idx[labels == label]
        share = round(rows * len(members) / len(labels))
        keep += rng.choice(members, size=share, replace=False).tolist()
    data.train_idx = np.sort(np.asarray(keep))


def accuracy(model: torch.nn.Module, data: PreparedData, split: Any) -> float:
    model.eval()
    right = total = 0
    with torch.no_grad():
        for x, y in data.loader(split, batch_size=64, shuffle=False):
            right += int((model(x).argmax(-1) == y).sum())
            total += len(y)
    return right / total


def model_config(args: argparse.Namespace, classes: int) -> dict[str, Any]:
    """The ``minilm`` architecture config of ``--mode`` (and the LoRA options)."""
    config: dict[str, Any] = {"num_classes": classes, "finetune": args.mode}
    config["layer_lr_decay"] = getattr(args, "layer_lr_decay", 1.0)
    if args.mode == "lora":
        config["lora"] = {
            "rank": args.lora_rank,
            "alpha": args.lora_alpha,
            "target_modules": args.lora_targets.split(","),
        }
    return config


class Slices:
    """The training loader cut into ``parts`` consecutive slices, one a Trainer epoch: Trainer
    epoch ``e`` is slice ``(e - 1) % parts`` of the real epoch ``(e - 1) // parts + 1`` (its
    batch order as the loader gives it), so a run of ``epochs * parts`` Trainer epochs sees
    exactly ``epochs`` passes, under one schedule, and can stop and resume at each slice."""

    def __init__(self, loader: Any, parts: int) -> None:
        self.loader, self.parts, self.epoch = loader, parts, 1
        self.batch_sampler = self  # the Trainer's set_epoch finds it here

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.loader) // self.parts)

    def __iter__(self) -> Any:
        part = (self.epoch - 1) % self.parts
        self.loader.batch_sampler.set_epoch((self.epoch - 1) // self.parts + 1)
        start = part * len(self)
        for i, batch in enumerate(self.loader):
            if start <= i < start + len(self):
                yield batch


class StopAfter(Callback):
    """Ends the fit after ``epochs`` epochs of this process (a resumed run goes on)."""

    def __init__(self, epochs: int | None) -> None:
        self.epochs, self.done = epochs, 0

    def on_epoch_end(self, trainer: Trainer, metrics: Any) -> None:
        self.done += 1
        if self.epochs is not None and self.done >= self.epochs:
            trainer.should_stop = True


def cmd_checkpoint(args: argparse.Namespace) -> dict[str, Any]:
    """Test accuracy of the newest checkpoint of an unfinished ``train`` run (``--slices``
    epochs done so far: its schedule had not ended)."""
    from neuroplast.training.checkpoint import load_checkpoint

    torch.set_num_threads(args.threads)
    data = load_data(args.dataset, args.max_length)
    state = load_checkpoint(args.checkpoint_dir / "last.json")
    model = create_model("minilm", model_config(args, len(data.label_names)))
    model.load_state_dict(state.model)
    result = {"mode": args.mode, "checkpoint_epoch": state.epoch}
    result["test_accuracy"] = round(accuracy(model, data, "test"), 4)
    result["train_loss"] = [round(m["train_loss"], 4) for m in state.history]
    result["seconds_per_epoch"] = [round(m.get("seconds") or 0.0, 1) for m in state.history]
    console.print(result)
    return result
