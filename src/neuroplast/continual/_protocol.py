"""The protocol knobs of a task's training that the one :class:`Trainer` does not know about:
a budget of optimizer steps (``train.steps_per_task``), Adam's state kept across tasks
(``train.reset_optimizer: false``) and a count of the optimizer steps each task got."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, Sampler, TensorDataset

from neuroplast.training import Callback

if TYPE_CHECKING:
    from torch import Tensor

    from neuroplast.training import Trainer
    from neuroplast.types import ModelMetrics

__all__ = ["OptimizerCarry", "StepBatches", "StepCounter", "batches", "step_batches"]


class StepBatches(Sampler[list[int]]):
    """Exactly ``count`` mini-batches of ``batch_size`` row indices (fewer rows only when the
    data holds fewer), drawn from successive seeded shuffles of the ``rows`` rows: every row
    is seen once before any is seen twice."""

    def __init__(self, rows: int, batch_size: int, count: int, seed: int) -> None:
        self.rows, self.batch_size, self.count, self.seed = rows, batch_size, count, seed

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed)
        size = min(self.batch_size, self.rows)
        pool: list[int] = []
        for _ in range(self.count):
            while len(pool) < size:
                pool.extend(torch.randperm(self.rows, generator=generator).tolist())
            yield pool[:size]
            del pool[:size]


def batches(x: Tensor, y: Tensor, batch_size: int, seed: int) -> DataLoader[Any]:
    """Shuffled mini-batches of whole tensors (one indexing per batch, no collation)."""
    dataset = TensorDataset(x, y)
    generator = torch.Generator().manual_seed(seed)
    sampler = BatchSampler(RandomSampler(dataset, generator=generator), batch_size, False)
    return DataLoader(dataset, sampler=sampler, batch_size=None, num_workers=0)


def step_batches(x: Tensor, y: Tensor, batch_size: int, count: int, seed: int) -> DataLoader[Any]:
    """``count`` mini-batches of whole tensors (see :class:`StepBatches`)."""
    sampler = StepBatches(len(y), batch_size, count, seed)
    return DataLoader(TensorDataset(x, y), sampler=sampler, batch_size=None, num_workers=0)


class StepCounter(Callback):
    """Counts the optimizer steps of a fit (the loop fires ``on_after_backward`` once per
    step, after the accumulated gradients)."""

    def __init__(self) -> None:
        self.steps = 0

    def on_after_backward(self, trainer: Trainer) -> None:
        self.steps += 1


class OptimizerCarry(Callback):
    """Keeps the optimizer's per-parameter state (Adam's moments and step counts) from one
    task's fit to the next. The fresh optimizer's hyper-parameters (learning rate, schedule)
    are kept: only ``state`` is carried over."""

    def __init__(self) -> None:
        self.state: dict[Any, Any] | None = None

    def on_fit_start(self, trainer: Trainer) -> None:
        optimizer = trainer.optimizer
        if self.state is None or optimizer is None:
            return
        fresh = optimizer.state_dict()
        optimizer.load_state_dict({**fresh, "state": self.state})

    def on_fit_end(self, trainer: Trainer, history: list[ModelMetrics]) -> None:
        if trainer.optimizer is not None:
            self.state = trainer.optimizer.state_dict()["state"]
