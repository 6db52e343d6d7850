"""Task streams: a sequence of tasks cut from real data, in one of three scenarios.

* ``class`` (class-incremental): one head over every class; the task id is unknown at test time.
* ``task`` (task-incremental): one head whose outputs are masked to the task's classes
  (a multi-head network sharing one output layer); the task id is given.
* ``domain`` (domain-incremental): every task has the same ``k`` outputs (the position of a
  class inside its task), so the label space does not grow.

Every task holds tensors ready for a model: images scaled to ``input_range`` (default
``[-1, 1]``, as ``neuroplast train`` normalises them: ``(x / 255 - 0.5) / 0.5``), texts as
token ids padded to ``max_length``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from neuroplast.data import ImageData, TextData, Vocabulary
from neuroplast.errors import ConfigError, DataError

__all__ = [
    "FeatureData",
    "Scenario",
    "Stream",
    "Task",
    "build_stream",
    "check_task_classes",
    "feature_scaling",
    "feature_tensor",
    "image_normalisation",
    "image_tensor",
    "split_by_classes",
    "text_tensor",
]

logger = logging.getLogger(__name__)
Scenario = Literal["class", "task", "domain"]
SCENARIOS: tuple[Scenario, ...] = ("class", "task", "domain")


@dataclass(frozen=True, eq=False)
class FeatureData:
    """Numeric features ``[N, D]`` with labels ``0..K-1`` (a user stream's numeric columns).

    A model sees them as a ``1 x s x s`` grid (``s = ceil(sqrt(D))``, zero-padded) so that the
    image architectures take them; ``image_mlp`` reads the grid as the flat vector it is."""

    features: np.ndarray
    labels: np.ndarray
    label_names: list[str]
    source: str
    columns: list[str]
    test_mask: np.ndarray | None = None

    @property
    def modality(self) -> str:
        return "image"

    @property
    def num_classes(self) -> int:
        return len(self.label_names)


@dataclass
class Task:
    """One task: its classes (global label ids) and its train / test tensors."""

    index: int
    classes: list[int]
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor

    @property
    def name(self) -> str:
        return f"task {self.index + 1}"


@dataclass
class Stream:
    """Tasks in training order plus what a model needs to know about them."""

    name: str
    scenario: Scenario
    tasks: list[Task]
    label_names: list[str]
    modality: str  # "image" | "text"
    vocab: Vocabulary | None = None
    input_shape: tuple[int, ...] = field(default_factory=tuple)
    #: images: the values pixel 0 and pixel 255 map to
    input_range: tuple[float, float] = (-1.0, 1.0)
    #: task-IL: "single" (one output layer, masked per task) or "multi" (a head per task)
    heads: str = "single"
    #: features: {"columns", "mean", "std"} of the inputs (what predict must apply)
    features: dict[str, list[Any]] | None = None
    #: what the rows hold: "text", "image" or "features" (numeric columns on a grid); "" when
    #: built elsewhere (then the modality says it)
    kind: str = ""

    @property
    def image_normalisation(self) -> tuple[float, float]:
        """``(mean, std)`` with ``(x / 255 - mean) / std`` equal to this stream's scaling."""
        return image_normalisation(self.input_range)

    @property
    def num_outputs(self) -> int:
        if self.scenario == "domain":
            return max(len(t.classes) for t in self.tasks)
        return len(self.label_names)

    def output_mask(self, task: int, *, through: int | None = None) -> Tensor:
        """Boolean [num_outputs]: the outputs that compete for task ``task``'s inputs.

        Task-IL: that task's classes. Class-IL: every class of tasks ``0..through``
        (default ``task``). Domain-IL: every output.
        """
        mask = torch.zeros(self.num_outputs, dtype=torch.bool)
        if self.scenario == "domain":
            mask[:] = True
        elif self.scenario == "task":
            mask[self.tasks[task].classes] = True
        else:
            last = task if through is None else max(task, through)
            for t in self.tasks[: last + 1]:
                mask[t.classes] = True
        return mask

    def task_of_class(self) -> Tensor:
        """LongTensor [num classes]: the task each class belongs to (task- and class-IL)."""
        owner = torch.full((len(self.label_names),), -1, dtype=torch.long)
        for t in self.tasks:
            owner[t.classes] = t.index
        return owner


def split_by_classes(
    labels: np.ndarray, num_classes: int, classes_per_task: int, num_tasks: int | None
) -> list[list[int]]:
    """Consecutive groups of ``classes_per_task`` classes; a remainder joins the last group."""
    if classes_per_task < 2:
        raise ConfigError(
            f"stream.classes_per_task={classes_per_task}: a task needs at least 2 classes "
            "(a task with one class has nothing to learn); use 2 or more"
        )
    present = sorted(int(c) for c in np.unique(labels))
    if len(present) < num_classes:
        logger.info("%d of %d classes have rows", len(present), num_classes)
    groups = [present[i : i + classes_per_task] for i in range(0, len(present), classes_per_task)]
    if len(groups) > 1 and len(groups[-1]) < 2:
        groups[-2].extend(groups.pop())
    if num_tasks is not None:
        if num_tasks > len(groups):
            raise ConfigError(
                f"stream.tasks={num_tasks} but {len(present)} classes in groups of "
                f"{classes_per_task} give only {len(groups)} tasks; lower stream.tasks"
            )
        groups = groups[:num_tasks]
    return groups


def check_task_classes(groups: Sequence[Sequence[int]], scenario: Scenario) -> None:
    """Every task has 2+ classes; class- and task-IL forbid a class in two tasks."""
    seen: dict[int, int] = {}
    for index, group in enumerate(groups):
        if len(set(group)) < 2:
            raise DataError(
                f"task {index + 1} has only {len(set(group))} class ({list(group)}); every "
                "task needs at least 2 classes: merge it with another task"
            )
        for c in group:
            if c in seen and scenario != "domain":
                raise DataError(
                    f"class {c} appears in task {seen[c] + 1} and task {index + 1}, which the "
                    f"{scenario}-incremental scenario forbids (each class is learnt in one "
                    "task); remove the overlap or use scenario: domain"
                )
            seen.setdefault(c, index)
    if scenario == "domain":
        sizes = {len(set(g)) for g in groups}
        if len(sizes) > 1:
            raise DataError(
                f"domain-incremental tasks must have the same number of classes; got "
                f"{sorted(sizes)}: regroup the classes"
            )


def image_normalisation(input_range: tuple[float, float]) -> tuple[float, float]:
    """``(mean, std)`` of ``(x / 255 - mean) / std`` that maps 0 -> low and 255 -> high."""
    low, high = input_range
    return (0.0 - low) / (high - low), 1.0 / (high - low)  # 0.0 - 0.0 is 0.0, not -0.0


def image_tensor(images: np.ndarray, input_range: tuple[float, float] = (-1.0, 1.0)) -> Tensor:
    """uint8 [N, C, H, W] -> float32 in ``input_range`` (default [-1, 1], normalised like
    ``neuroplast train``)."""
    mean, std = image_normalisation(input_range)
    return (torch.from_numpy(np.ascontiguousarray(images)).float() / 255.0 - mean) / std


def text_tensor(vocab: Vocabulary, texts: Sequence[str], max_length: int) -> Tensor:
    """Token ids padded with 0 to ``max_length`` (LongTensor [N, max_length])."""
    out = torch.zeros((len(texts), max_length), dtype=torch.long)
    for row, ids in enumerate(vocab.encode_batch(list(texts), max_length=max_length)):
        if ids:
            out[row, : len(ids)] = torch.tensor(ids[:max_length], dtype=torch.long)
    return out


def feature_scaling(
    features: np.ndarray, train_idx: np.ndarray, *, standardize: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and standard deviation over the training rows (1 for a constant
    column); zeros and ones when not ``standardize``."""
    d = features.shape[1]
    if not standardize:
        return np.zeros(d, dtype=np.float32), np.ones(d, dtype=np.float32)
    reference = np.asarray(features[train_idx], dtype=np.float64)
    mean, std = reference.mean(0), reference.std(0)
    return mean.astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


def feature_tensor(features: np.ndarray, mean: np.ndarray, std: np.ndarray) -> Tensor:
    """float [N, D] -> ``(x - mean) / std`` on a zero-padded [N, 1, s, s] grid,
    ``s = ceil(sqrt(D))``."""
    x = (np.asarray(features, dtype=np.float32) - mean) / std
    side = math.ceil(math.sqrt(x.shape[1]))
    grid = torch.zeros((x.shape[0], side * side), dtype=torch.float32)
    grid[:, : x.shape[1]] = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    return grid.reshape(-1, 1, side, side)


def _encoded(
    data: TextData | ImageData | FeatureData,
    train_idx: np.ndarray,
    *,
    max_length: int,
    vocab_size: int,
    input_range: tuple[float, float],
    standardize: bool = True,
) -> tuple[Tensor, Vocabulary | None]:
    """Every row as model input: token ids (a vocabulary built on the training rows),
    scaled images, or features on a grid."""
    if isinstance(data, TextData):
        vocab = Vocabulary.build((data.texts[i] for i in train_idx), max_size=vocab_size)
        return text_tensor(vocab, data.texts, max_length), vocab
    if isinstance(data, FeatureData):
        mean, std = feature_scaling(data.features, train_idx, standardize=standardize)
        return feature_tensor(data.features, mean, std), None
    return image_tensor(data.images, input_range), None


def _task_rows(
    index: int,
    classes: list[int],
    codes: np.ndarray,
    splits: tuple[np.ndarray, np.ndarray],
    task_of_row: np.ndarray | None,
) -> tuple[Tensor, Tensor]:
    """Task ``index``'s training and test rows: those of its classes (and, with
    ``task_of_row``, given to it); both must be there."""
    rows = []
    for split in splits:
        keep = np.isin(codes[split], classes)
        if task_of_row is not None:
            keep &= task_of_row[split] == index
        rows.append(torch.from_numpy(split[keep]))
    if len(rows[0]) == 0 or len(rows[1]) == 0:
        raise DataError(
            f"task {index + 1} (classes {classes}) has {len(rows[0])} training and "
            f"{len(rows[1])} test rows; every task needs both (with a split column: rows "
            "of each split in every task)"
        )
    return rows[0], rows[1]


def _permuted(x: Tensor, permutation: np.ndarray | None) -> Tensor:
    """``x`` with each input's pixels shuffled by ``permutation`` (None: as it is)."""
    if permutation is None:
        return x
    return x.flatten(1)[:, torch.from_numpy(permutation)].reshape(x.shape)


def _within_task(labels: Tensor, classes: list[int], outputs: int) -> Tensor:
    """Domain-incremental labels: each class's position within its task's classes (labels
    run over ``outputs`` classes)."""
    lookup = torch.full((outputs,), -1, dtype=torch.long)
    lookup[classes] = torch.arange(len(classes))
    return lookup[labels]


def _cut(
    data: TextData | ImageData | FeatureData,
    groups: Sequence[Sequence[int]],
    inputs: Tensor,
    splits: tuple[np.ndarray, np.ndarray],
    task_of_row: np.ndarray | None,
    permutations: Sequence[np.ndarray] | None,
) -> tuple[list[Task], list[str]]:
    """The tasks (labels renumbered over the classes some task uses: ``tasks: 2`` of WordNet
    gets 10 outputs) and the names of those classes."""
    used = sorted({int(c) for g in groups for c in g})
    remap = np.full(len(data.label_names), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    codes = remap[data.labels]
    labels = torch.from_numpy(codes)
    tasks: list[Task] = []
    for index, group in enumerate(groups):
        classes = sorted({int(remap[c]) for c in group})
        train, test = _task_rows(index, classes, codes, splits, task_of_row)
        permutation = None if permutations is None else permutations[index]
        x_tr, x_te = _permuted(inputs[train], permutation), _permuted(inputs[test], permutation)
        tasks.append(Task(index, classes, x_tr, labels[train], x_te, labels[test]))
    return tasks, [data.label_names[c] for c in used]


def build_stream(
    name: str,
    data: TextData | ImageData | FeatureData,
    groups: Sequence[Sequence[int]],
    *,
    scenario: Scenario,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    task_of_row: np.ndarray | None = None,
    permutations: Sequence[np.ndarray] | None = None,
    max_length: int = 32,
    vocab_size: int = 20000,
    input_range: tuple[float, float] = (-1.0, 1.0),
    heads: str = "single",
    standardize: bool = True,
) -> Stream:
    """Cut ``data`` into tasks.

    ``groups[t]`` are task ``t``'s classes. ``task_of_row`` assigns rows to tasks directly
    (a user CSV with a task column); ``permutations`` makes a permuted stream (every task
    holds all rows, its pixels shuffled by its permutation).
    """
    if scenario not in SCENARIOS:
        raise ConfigError(f"stream.scenario={scenario!r}; choose one of {', '.join(SCENARIOS)}")
    check_task_classes(groups, scenario)
    inputs, vocab = _encoded(
        data,
        train_idx,
        max_length=max_length,
        vocab_size=vocab_size,
        input_range=input_range,
        standardize=standardize,
    )
    tasks, names = _cut(data, groups, inputs, (train_idx, test_idx), task_of_row, permutations)
    if scenario == "domain":
        for task in tasks:
            task.y_train = _within_task(task.y_train, task.classes, len(names))
            task.y_test = _within_task(task.y_test, task.classes, len(names))
        names = [f"class {k} of each task" for k in range(len(groups[0]))]
    return Stream(
        name=name,
        scenario=scenario,
        tasks=tasks,
        label_names=names,
        modality=data.modality,
        vocab=vocab,
        input_shape=tuple(inputs.shape[1:]),
        input_range=input_range,
        heads=heads,
        kind="features" if isinstance(data, FeatureData) else data.modality,
        features=_feature_record(data, train_idx, standardize),
    )


def _feature_record(
    data: TextData | ImageData | FeatureData, train_idx: np.ndarray, standardize: bool
) -> dict[str, list[Any]] | None:
    if not isinstance(data, FeatureData):
        return None
    mean, std = feature_scaling(data.features, train_idx, standardize=standardize)
    return {"columns": list(data.columns), "mean": mean.tolist(), "std": std.tolist()}
