"""Resumable training checkpoints as safetensors + JSON (no pickle).

A checkpoint holds the model weights, the optimizer's tensor state, the scheduler and
callback state, the RNG state and the epoch. Tensors go to ``<stem>.<id>.safetensors``;
everything else goes to ``<stem>.json`` together with the tensors' file name and sha256,
so a truncated or altered checkpoint is refused on load, and a process killed while
saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from neuroplast.errors import ArtifactError
from neuroplast.registry.artifacts import (
    atomic_write_json,
    read_json_verified,
    read_safetensors_verified,
    save_safetensors,
)

__all__ = ["TrainingState", "load_checkpoint", "save_checkpoint"]

_FORMAT = 1


@dataclass
class TrainingState:
    epoch: int
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any] | None = None
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    rng: torch.Tensor | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def _split_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for index, slots in state["state"].items():
        plain_slots: dict[str, Any] = {}
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim/{index}/{key}"] = value
            else:
                plain_slots[key] = value
        plain["state"][str(index)] = plain_slots
    return tensors, plain


def _join_optimizer(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in plain["state"].items()}
    for name, value in tensors.items():
        if name.startswith("optim/"):
            _, index, key = name.split("/", 2)
            state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": plain["param_groups"]}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a JSON checkpoint")


def save_checkpoint(directory: Path, stem: str, state: TrainingState) -> Path:
    """Write ``<stem>.safetensors`` then ``<stem>.json`` atomically; returns the JSON path."""
    tensors = {f"model/{k}": v for k, v in state.model.items()}
    optim_tensors, optim_plain = _split_optimizer(state.optimizer)
    tensors.update(optim_tensors)
    if state.rng is not None:
        tensors["rng/torch"] = state.rng
    # A fresh tensor file per save, published by the atomic JSON write that names it: a
    # crash between the two writes leaves the previous checkpoint whole and loadable.
    weights = directory / f"{stem}.{uuid.uuid4().hex[:8]}.safetensors"
    sha = save_safetensors(weights, tensors)
    meta = {
        "format": _FORMAT,
        "epoch": state.epoch,
        "tensors_sha256": sha,
        "tensors_file": weights.name,
        "optimizer": _jsonable(optim_plain),
        "scheduler": _jsonable(state.scheduler),
        "callbacks": _jsonable(state.callbacks),
        "history": state.history,
    }
    path = directory / f"{stem}.json"
    atomic_write_json(path, meta)
    for old in directory.glob(f"{stem}.*.safetensors"):
        if old != weights:
            old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path) -> TrainingState:
    """Read a checkpoint written by :func:`save_checkpoint`, verifying the tensors' hash."""
    meta = read_json_verified(path, None)
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise ArtifactError(f"{path} is not a neuroplast training checkpoint (format {_FORMAT})")
    tensors = read_safetensors_verified(path.parent / meta["tensors_file"], meta["tensors_sha256"])
    model = {k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")}
    return TrainingState(
        epoch=int(meta["epoch"]),
        model=model,
        optimizer=_join_optimizer(tensors, meta["optimizer"]),
        scheduler=meta.get("scheduler"),
        callbacks=meta.get("callbacks", {}),
        rng=tensors.get("rng/torch"),
        history=list(meta.get("history", [])),
    )
