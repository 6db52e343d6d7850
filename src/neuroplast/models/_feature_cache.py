"""Features of the frozen part of a network, cached per input so later epochs skip it.

A key is the sha256 of (the frozen weights' id, the input row's dtype, shape and bytes): the
same image under the same frozen weights finds its features; a changed image (one pixel) or
other weights do not. Values are the frozen part's outputs for one row, kept on the CPU;
the oldest-used rows are evicted past ``max_bytes``.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["FeatureCache"]

logger = logging.getLogger(__name__)


class FeatureCache:
    """An LRU map from input rows to feature rows, bounded in bytes, with hit/miss counters.

    ``FeatureCache(max_bytes).features(rows, weights_id, compute)`` returns the features of
    ``rows``, calling ``compute`` only on the rows it has not seen. One cache may be shared by
    several models: the weights id in the key keeps their features apart.
    """

    def __init__(self, max_bytes: int = 1 << 30) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes={max_bytes} must be positive")
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.bytes = 0
        self._rows: OrderedDict[str, Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    @staticmethod
    def key(weights_id: str, row: Tensor) -> str:
        """sha256 of the weights id and one input row (dtype, shape and bytes)."""
        array = row.detach().cpu().contiguous().numpy()
        digest = hashlib.sha256(f"{weights_id}|{array.dtype}|{array.shape}|".encode())
        digest.update(array.tobytes())
        return digest.hexdigest()

    def features(
        self, rows: Tensor, weights_id: str, compute: Callable[[Tensor], Tensor]
    ) -> Tensor:
        """``compute(rows)``, from the cache where it can; ``compute`` sees only the misses."""
        on_cpu = rows.detach().cpu()  # one copy of the batch to hash, not one per row
        keys = [self.key(weights_id, row) for row in on_cpu]
        found = [self._get(k) for k in keys]
        missing = [i for i, f in enumerate(found) if f is None]
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if missing:
            with torch.no_grad():
                fresh = compute(rows[missing]).detach().cpu()
            for i, value in zip(missing, fresh, strict=True):
                row = value.clone()  # a row of its own, not a view that pins the batch
                self._put(keys[i], row)
                found[i] = row
        return torch.stack(found).to(rows.device)  # type: ignore[arg-type]

    def clear(self) -> None:
        self._rows.clear()
        self.bytes = 0

    def stats(self) -> dict[str, int]:
        return {
            "rows": len(self._rows),
            "bytes": self.bytes,
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
        }

    def _get(self, key: str) -> Tensor | None:
        value = self._rows.get(key)
        if value is not None:
            self._rows.move_to_end(key)
        return value

    def _put(self, key: str, value: Tensor) -> None:
        size = value.numel() * value.element_size()
        if size > self.max_bytes:
            return
        old = self._rows.pop(key, None)
        if old is not None:
            self.bytes -= old.numel() * old.element_size()
        self._rows[key] = value
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, evicted = self._rows.popitem(last=False)
            self.bytes -= evicted.numel() * evicted.element_size()
            self.evictions += 1
