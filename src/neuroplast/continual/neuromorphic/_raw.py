"""The raw inputs of a stream's tasks: the texts a sentence encoder reads (a stream holds
token ids of its own vocabulary) and, for images, the stream's own scaled tensors.

The rows are picked the way :func:`neuroplast.continual.streams.build_stream` picks them
(the same data, split, class groups and order), and checked against the stream's labels, so
that the learner sees task for task the rows every other strategy sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neuroplast.continual.config import StreamConfig
from neuroplast.continual.streams import Stream, split_by_classes
from neuroplast.data import TextData
from neuroplast.errors import DataError

__all__ = ["RawTask", "raw_tasks"]

Inputs = list[str] | Tensor


@dataclass
class RawTask:
    """One task's inputs (texts or image tensors) and global labels."""

    classes: list[int]
    x_train: Inputs
    y_train: Tensor
    x_test: Inputs
    y_test: Tensor


def _text_rows(
    cfg: StreamConfig,
) -> tuple[TextData, list[list[int]], tuple[np.ndarray, ...], np.ndarray | None]:
    """The data, class groups, (train, test) rows and task column of a text stream."""
    from neuroplast.continual import sources
    from neuroplast.continual._user_files import read_user_data
    from neuroplast.data import load_builtin

    task_of_row = None
    data: Any
    if cfg.source in sources.BUILT_IN:
        data = load_builtin(sources.BUILT_IN[cfg.source])
        split = sources._builtin_split(data, cfg, sources.BUILT_IN[cfg.source])
        groups = split_by_classes(data.labels, data.num_classes, cfg.classes_per_task, cfg.tasks)
    else:
        (data, task_of_row, split), order = read_user_data(cfg)
        groups = [
            sorted({int(c) for c in data.labels[task_of_row == t]}) for t in range(len(order))
        ]
    if not isinstance(data, TextData):
        raise DataError(f"stream {cfg.source} holds no texts")
    train, test = sources._train_test(data, cfg, split)
    return data, groups, (train, test), task_of_row


def _texts_of(
    data: TextData,
    groups: Sequence[Sequence[int]],
    splits: tuple[np.ndarray, ...],
    task_of_row: np.ndarray | None,
) -> list[tuple[list[str], np.ndarray, list[str], np.ndarray]]:
    used = sorted({int(c) for g in groups for c in g})
    remap = np.full(len(data.label_names), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    codes = remap[data.labels]
    out = []
    for index, group in enumerate(groups):
        classes = sorted({int(remap[c]) for c in group})
        parts: list[tuple[list[str], np.ndarray]] = []
        for split in splits:
            keep = np.isin(codes[split], classes)
            if task_of_row is not None:
                keep &= task_of_row[split] == index
            rows = split[keep]
            parts.append(([data.texts[i] for i in rows], codes[rows]))
        out.append((parts[0][0], parts[0][1], parts[1][0], parts[1][1]))
    return out


def _position(labels: Tensor, classes: list[int]) -> Tensor:
    lookup = {c: k for k, c in enumerate(classes)}
    return torch.tensor([lookup[int(c)] for c in labels], dtype=torch.long)


def raw_tasks(stream: Stream, cfg: StreamConfig) -> list[RawTask]:
    """Each task of ``stream`` (built from ``cfg``) with the inputs an encoder reads."""
    if stream.modality != "text" or stream.kind == "features":
        return [RawTask(t.classes, t.x_train, t.y_train, t.x_test, t.y_test) for t in stream.tasks]
    data, groups, splits, task_of_row = _text_rows(cfg)
    out = []
    for task, (xtr, ytr, xte, yte) in zip(
        stream.tasks, _texts_of(data, groups, splits, task_of_row), strict=True
    ):
        y_train, y_test = torch.from_numpy(ytr), torch.from_numpy(yte)
        if stream.scenario == "domain":  # labels are positions within each task
            y_train, y_test = _position(y_train, task.classes), _position(y_test, task.classes)
        if not (torch.equal(y_train, task.y_train) and torch.equal(y_test, task.y_test)):
            raise DataError(f"{task.name}: the texts read again do not match the stream's rows")
        out.append(RawTask(task.classes, xtr, y_train, xte, y_test))
    return out
