"""Each process's part of the data when several train one model (DDP).

A global batch is what one process would train on in one step. :class:`ShardedBatchSampler`
draws the global batches exactly as the single-process loader does (same sampler, same
seed, same epoch) and gives process ``rank`` the rows ``batch[rank::world]``, so the
processes together see each global batch once. DDP averages the processes' gradients; each
process weighs its mean loss by :attr:`ShardedBatchSampler.loss_scale` (``world x its rows /
the global batch's rows``), so the averaged gradient is the gradient of the mean loss over
the global batch, also for an uneven last batch. A process whose share of a batch is empty
(a last batch smaller than the number of processes) trains on one row with weight 0, so that
every process takes part in every step.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from typing import Any

from torch.utils.data import DataLoader

from neuroplast.errors import TrainingError

__all__ = ["ShardedBatchSampler", "shard_loader", "sharded_sampler"]


class ShardedBatchSampler:
    """Process ``rank``'s rows of each batch of ``batches`` (an iterable of index lists).

    ``pad_empty`` (training): an empty share becomes one row with :attr:`loss_scale` 0;
    without it (evaluation) empty shares are skipped.
    """

    def __init__(
        self, batches: Iterable[list[int]], rank: int, world: int, *, pad_empty: bool
    ) -> None:
        if not 0 <= rank < world:
            raise TrainingError(f"process rank {rank} is outside a world of {world} processes")
        self.batches, self.rank, self.world, self.pad_empty = batches, rank, world, pad_empty
        self.loss_scale = 1.0  # of the batch yielded last
        self.rows = 0  # real rows of the batch yielded last

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.batches, "set_epoch"):
            self.batches.set_epoch(epoch)

    def __len__(self) -> int:
        if not isinstance(self.batches, Sized):
            raise TrainingError("the training batches must have a length to be sharded")
        return len(self.batches)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches:
            batch = list(batch)
            share = batch[self.rank :: self.world]
            self.rows = len(share)
            self.loss_scale = self.world * len(share) / len(batch) if batch else 0.0
            if share:
                yield share
            elif self.pad_empty and batch:
                yield batch[:1]


def shard_loader(loader: Any, rank: int, world: int, *, train: bool) -> DataLoader[Any]:
    """The DataLoader of process ``rank``: ``loader``'s dataset, collate function and batches,
    sharded (see the module docstring). Loaders that yield whole batches from their sampler
    (``batch_size=None``) and loaders with a batch sampler are both handled."""
    if not isinstance(loader, DataLoader):
        raise TrainingError(
            f"training on several processes needs DataLoaders, got {type(loader).__name__}; "
            "build one with neuroplast.data's text_loader / image_loader or torch's DataLoader"
        )
    if loader.batch_sampler is not None:
        sampler = ShardedBatchSampler(loader.batch_sampler, rank, world, pad_empty=train)
        return DataLoader(loader.dataset, batch_sampler=sampler, collate_fn=loader.collate_fn)
    sampler = ShardedBatchSampler(loader.sampler, rank, world, pad_empty=train)
    return DataLoader(
        loader.dataset, sampler=sampler, batch_size=None, collate_fn=loader.collate_fn
    )


def sharded_sampler(loader: Any) -> ShardedBatchSampler | None:
    """The :class:`ShardedBatchSampler` behind a loader made by :func:`shard_loader`."""
    for candidate in (getattr(loader, "batch_sampler", None), getattr(loader, "sampler", None)):
        if isinstance(candidate, ShardedBatchSampler):
            return candidate
    return None
