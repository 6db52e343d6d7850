"""The prototype manager: labelled unit vectors that follow their members by an EMA, a new
prototype when an example is far from every prototype of its label, and a maintenance pass
that merges near-duplicates, splits spread-out prototypes and evicts the least used past the
cap. Prototypes keep a stable integer id; rows (0..P-1) are their positions now, the order of
:attr:`labels`, :meth:`similarities` and the spiking memory's assemblies."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from neuroplast.continual.neuromorphic._proto_index import make_index
from neuroplast.continual.neuromorphic.config import PrototypeManagerConfig
from neuroplast.errors import ArtifactError, ConfigError, DataError

__all__ = ["MaintenanceReport", "PrototypeMemory"]

SCHEMA_VERSION = 1
_ROW_FIELDS = ("labels", "ids", "counts", "usage", "last_used")  # int64, one per row
_FLOAT_FIELDS = ("variance",)
_VECTOR_FIELDS = ("vectors", "direction")
_EXAMPLE_FIELDS = ("example_refs", "example_sims")
_EPS = 1e-12


@dataclass(frozen=True)
class MaintenanceReport:
    merged: int
    split: int
    evicted: int


def _unit_rows(emb: Any, dim: int) -> np.ndarray:
    array = emb.detach().cpu().numpy() if isinstance(emb, torch.Tensor) else np.asarray(emb)
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != dim:
        raise DataError(f"expected embeddings of shape [n, {dim}], got {tuple(array.shape)}")
    if not np.isfinite(array).all():
        raise DataError("the embeddings hold NaN or infinite values")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    if (norms < _EPS).any():
        raise DataError("an embedding is all zeros: it has no direction to compare")
    return np.ascontiguousarray(array / norms)


def _ints(values: Any, n: int, what: str) -> np.ndarray:
    array = values.cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.shape != (n,) or not np.issubdtype(array.dtype, np.integer):
        raise DataError(f"expected {n} integer {what}, got shape {array.shape} {array.dtype}")
    return array.astype(np.int64)


class PrototypeMemory:
    """Labelled prototypes of dimension ``dim`` configured by ``cfg``."""

    def __init__(self, cfg: PrototypeManagerConfig, dim: int) -> None:
        if dim < 1:
            raise ConfigError(f"a prototype memory needs dim >= 1, got {dim}")
        self.cfg = cfg
        self.dim = dim
        self.updates = 0
        self._since_maintenance = 0
        self._next_id = 0
        self._n = 0
        self._a: dict[str, np.ndarray] = {}
        self._grow(16)
        self._index = make_index(cfg.indexing_backend, dim)
        self._dirty: set[int] = set()
        self._removed: set[int] = set()

    # ---- views (row order) ----
    def __len__(self) -> int:
        return self._n

    def _view(self, name: str) -> np.ndarray:
        return self._a[name][: self._n]

    @property
    def ids(self) -> torch.Tensor:
        return torch.from_numpy(self._view("ids").copy())

    @property
    def labels(self) -> torch.Tensor:
        return torch.from_numpy(self._view("labels").copy())

    @property
    def counts(self) -> torch.Tensor:
        return torch.from_numpy(self._view("counts").copy())

    @property
    def usage(self) -> torch.Tensor:
        return torch.from_numpy(self._view("usage").copy())

    @property
    def vectors(self) -> torch.Tensor:
        return torch.from_numpy(self._view("vectors").copy())

    @property
    def nbytes(self) -> int:
        """Bytes of what is persisted: every per-prototype tensor."""
        return sum(int(t.numel() * t.element_size()) for t in self.to_tensors().values())

    # ---- storage ----
    def _grow(self, capacity: int) -> None:
        e, d = self.cfg.examples_per_prototype, self.dim
        new = {name: np.zeros(capacity, np.int64) for name in _ROW_FIELDS}
        new["variance"] = np.zeros(capacity, np.float32)
        new.update({name: np.zeros((capacity, d), np.float32) for name in _VECTOR_FIELDS})
        new["example_refs"] = np.full((capacity, e), -1, np.int64)
        new["example_sims"] = np.full((capacity, e), -np.inf, np.float32)
        for name, old in self._a.items():
            new[name][: self._n] = old[: self._n]
        self._a = new

    def _row_of(self, pid: int) -> int:
        rows = np.flatnonzero(self._view("ids") == pid)
        if not len(rows):
            raise DataError(f"no prototype has id {pid}; ids now: {self._view('ids').tolist()}")
        return int(rows[0])

    def _create(self, x: np.ndarray, label: int, ref: int) -> int:
        if self._n >= self.cfg.max_prototypes and not self._evict_one():
            raise ConfigError(
                f"max_prototypes={self.cfg.max_prototypes} leaves no room for label {label}: "
                "every prototype is its label's last; raise prototype_manager.max_prototypes"
            )
        if self._n == len(self._a["ids"]):
            self._grow(2 * self._n)
        row, pid = self._n, self._next_id
        self._n += 1
        self._next_id += 1
        a = self._a
        a["vectors"][row], a["direction"][row] = x, 0.0
        a["labels"][row], a["ids"][row], a["counts"][row] = label, pid, 1
        a["usage"][row], a["last_used"][row], a["variance"][row] = 1, self.updates, 0.0
        a["example_refs"][row], a["example_sims"][row] = -1, -np.inf
        self._keep_example(row, ref, 1.0)
        self._dirty.add(pid)
        return pid

    def _remove_row(self, row: int) -> None:
        pid = int(self._a["ids"][row])
        last = self._n - 1
        for array in self._a.values():
            array[row] = array[last]
        self._n = last
        self._dirty.discard(pid)
        self._removed.add(pid)

    def _keep_example(self, row: int, ref: int, sim: float) -> None:
        refs, sims = self._a["example_refs"][row], self._a["example_sims"][row]
        if ref < 0 or not len(refs) or ref in refs:
            return
        worst = int(np.argmin(sims))
        if sim > sims[worst]:
            refs[worst], sims[worst] = ref, sim

    # ---- learning ----
    def observe(
        self, emb: Any, labels: Any, *, refs: Sequence[int] | torch.Tensor | None = None
    ) -> list[int]:
        """Take labelled embeddings one by one: each updates its label's nearest prototype
        (EMA) when it is at least ``similarity_threshold`` similar, else starts a new one.
        ``refs`` are the caller's indices of the inputs (kept as evidence). Returns the id of
        the prototype each embedding went to; maintenance runs every
        ``maintenance_interval`` updates."""
        x = _unit_rows(emb, self.dim)
        ys = _ints(labels, len(x), "labels")
        rs = np.full(len(x), -1, np.int64) if refs is None else _ints(refs, len(x), "refs")
        out = []
        for i in range(len(x)):
            out.append(self._observe_one(x[i], int(ys[i]), int(rs[i])))
            self.updates += 1
            self._since_maintenance += 1
            if self._since_maintenance >= self.cfg.maintenance_interval:
                self.maintain()
        return out

    def _observe_one(self, x: np.ndarray, label: int, ref: int) -> int:
        rows = np.flatnonzero(self._view("labels") == label)
        if len(rows):
            sims = self._a["vectors"][rows] @ x
            best = int(np.argmax(sims))
            full = self._n >= self.cfg.max_prototypes and not self._evictable().any()
            if sims[best] >= self.cfg.similarity_threshold or full:
                self._update(int(rows[best]), x, ref)
                return int(self._a["ids"][rows[best]])
        return self._create(x, label, ref)

    def _update(self, row: int, x: np.ndarray, ref: int) -> None:
        a, m = self._a, self.cfg.momentum
        if self.cfg.mean_warmup:  # the running mean until the EMA's window is filled
            m = min(m, 1.0 - 1.0 / float(a["counts"][row] + 1))
        p = a["vectors"][row].copy()
        r = x - p
        a["variance"][row] = m * a["variance"][row] + (1.0 - m) * float(r @ r)
        a["direction"][row] = _oja(a["direction"][row], r, 1.0 - m)
        moved = m * p + (1.0 - m) * x
        a["vectors"][row] = moved / max(float(np.linalg.norm(moved)), _EPS)
        a["counts"][row] += 1
        a["usage"][row] += 1
        a["last_used"][row] = self.updates
        self._keep_example(row, ref, float(a["vectors"][row] @ x))
        self._dirty.add(int(a["ids"][row]))

    def record_use(self, ids: Sequence[int] | torch.Tensor) -> None:
        """Count a recall of these prototypes (eviction removes the least used)."""
        for pid in torch.as_tensor(ids).flatten().tolist():
            if pid >= 0:
                row = self._row_of(int(pid))
                self._a["usage"][row] += 1
                self._a["last_used"][row] = self.updates

    # ---- maintenance ----
    def maintain(self) -> MaintenanceReport:
        """Merge same-label prototypes more similar than ``merge_threshold``, split those
        whose spread exceeds ``split_variance``, then evict down to ``max_prototypes``."""
        merged = sum(self._merge_label(int(lab)) for lab in np.unique(self._view("labels")))
        split = self._split_all()
        evicted = 0
        while self._n > self.cfg.max_prototypes and self._evict_one():
            evicted += 1
        self._since_maintenance = 0
        return MaintenanceReport(merged=merged, split=split, evicted=evicted)

    def _merge_label(self, label: int) -> int:
        merged = 0
        while True:
            rows = np.flatnonzero(self._view("labels") == label)
            if len(rows) < 2:
                return merged
            v = self._a["vectors"][rows]
            sims = v @ v.T
            np.fill_diagonal(sims, -np.inf)
            i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
            if sims[i, j] <= self.cfg.merge_threshold:
                return merged
            self._merge_pair(int(rows[i]), int(rows[j]))
            merged += 1

    def _merge_pair(self, r1: int, r2: int) -> None:
        a = self._a
        keep, gone = (r1, r2) if a["counts"][r1] >= a["counts"][r2] else (r2, r1)
        c1, c2 = float(a["counts"][keep]), float(a["counts"][gone])
        w1, w2 = c1 / (c1 + c2), c2 / (c1 + c2)
        p1, p2 = a["vectors"][keep].copy(), a["vectors"][gone].copy()
        gap = p1 - p2
        a["variance"][keep] = (
            w1 * a["variance"][keep] + w2 * a["variance"][gone] + w1 * w2 * float(gap @ gap)
        )
        mean = w1 * p1 + w2 * p2
        a["vectors"][keep] = mean / max(float(np.linalg.norm(mean)), _EPS)
        for name in ("counts", "usage"):
            a[name][keep] += a[name][gone]
        a["last_used"][keep] = max(a["last_used"][keep], a["last_used"][gone])
        for ref, sim in zip(a["example_refs"][gone], a["example_sims"][gone], strict=True):
            self._keep_example(keep, int(ref), float(sim))
        self._dirty.add(int(a["ids"][keep]))
        self._remove_row(gone)

    def _split_all(self) -> int:
        a, cfg = self._a, self.cfg
        spread = (self._view("variance") > cfg.split_variance) & (
            self._view("counts") >= cfg.min_split_count
        )
        spread &= np.abs(self._view("direction")).sum(axis=1) > 0
        split = 0
        for row in np.flatnonzero(spread).tolist():
            if self._n >= cfg.max_prototypes:
                break
            p, u, var = a["vectors"][row].copy(), a["direction"][row].copy(), a["variance"][row]
            step = math.sqrt(2.0 * float(var) / math.pi) * u  # the 2-means of a normal along u
            count, usage = int(a["counts"][row]), int(a["usage"][row])
            refs, sims = a["example_refs"][row].copy(), a["example_sims"][row].copy()
            pid = self._create(_unit(p - step), int(a["labels"][row]), -1)
            new = self._n - 1
            a["vectors"][row] = _unit(p + step)
            a["counts"][row], a["counts"][new] = count - count // 2, count // 2
            a["usage"][row], a["usage"][new] = usage - usage // 2, usage // 2
            a["variance"][row] = a["variance"][new] = (1.0 - 2.0 / math.pi) * var
            a["direction"][new], a["last_used"][new] = u, a["last_used"][row]
            a["example_refs"][new], a["example_sims"][new] = refs, sims
            self._dirty.update({int(a["ids"][row]), pid})
            split += 1
        return split

    def _evictable(self) -> np.ndarray:
        labels = self._view("labels")
        if not self.cfg.keep_last_of_label:
            return np.ones(self._n, dtype=bool)
        values, counts = np.unique(labels, return_counts=True)
        shared = set(values[counts > 1].tolist())
        return np.array([int(lab) in shared for lab in labels], dtype=bool)

    def _evict_one(self) -> bool:
        """Remove one prototype: the least used (then least recently used), among the
        label holding the most prototypes when ``per_class_budget``."""
        evictable = self._evictable()
        if self.cfg.per_class_budget and evictable.any():
            labels = self._view("labels")
            values, counts = np.unique(labels[evictable], return_counts=True)
            evictable &= labels == values[int(np.argmax(counts))]
        candidates = np.flatnonzero(evictable)
        if not len(candidates):
            return False
        usage, last = self._a["usage"][candidates], self._a["last_used"][candidates]
        order = np.lexsort((last, usage))  # least used first, then least recently used
        self._remove_row(int(candidates[order[0]]))
        return True

    # ---- search ----
    def _sync(self) -> None:
        self._index.remove(np.fromiter(self._removed, np.int64, len(self._removed)))
        dirty = np.fromiter(self._dirty, np.int64, len(self._dirty))
        if len(dirty):
            rows = [self._row_of(int(pid)) for pid in dirty]
            self._index.upsert(dirty, self._a["vectors"][rows])
        self._removed.clear()
        self._dirty.clear()

    def search(self, emb: Any, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` most similar prototypes of each embedding: (similarities, ids), each
        [n, k], nearest first; past the memory's size ids are -1 and similarities -inf."""
        if k < 1:
            raise ConfigError(f"search needs k >= 1, got {k}")
        x = _unit_rows(emb, self.dim)
        self._sync()
        sims, ids = self._index.search(x, k, self._view("ids"), self._view("vectors"))
        return torch.from_numpy(sims), torch.from_numpy(ids)

    def similarities(self, emb: Any) -> torch.Tensor:
        """Cosine similarity of each embedding to every prototype, [n, P] in row order."""
        return torch.from_numpy(_unit_rows(emb, self.dim) @ self._view("vectors").T)

    def examples(self, pid: int) -> list[int]:
        """Refs of the stored inputs nearest to prototype ``pid``, nearest first."""
        row = self._row_of(pid)
        refs, sims = self._a["example_refs"][row], self._a["example_sims"][row]
        order = np.argsort(-sims, kind="stable")
        return [int(refs[i]) for i in order if refs[i] >= 0]

    def rows_of(self, ids: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """The current row of each id (-1 for an id not in the memory)."""
        position = {int(pid): row for row, pid in enumerate(self._view("ids").tolist())}
        wanted = torch.as_tensor(ids, dtype=torch.int64)
        rows = [position.get(int(pid), -1) for pid in wanted.flatten().tolist()]
        return torch.tensor(rows, dtype=torch.int64).reshape(wanted.shape)

    def rows_in(self, old_ids: torch.Tensor) -> torch.Tensor:
        """For each current row, the position of its id in ``old_ids`` (an earlier
        :attr:`ids`), or -1 for a prototype created since: how to carry per-row state."""
        position = {int(pid): i for i, pid in enumerate(old_ids.tolist())}
        return torch.tensor(
            [position.get(int(pid), -1) for pid in self._view("ids").tolist()], dtype=torch.int64
        )

    # ---- persistence ----
    def to_tensors(self) -> dict[str, torch.Tensor]:
        """Every per-prototype array (row order), for safetensors; the split direction in
        float16 (an axis to split along needs no more, and it is as large as the vectors)."""
        out = {name: torch.from_numpy(self._view(name).copy()) for name in self._a}
        out["direction"] = out["direction"].to(torch.float16)
        return out

    def meta(self) -> dict[str, Any]:
        """What the tensors do not hold, JSON-able."""
        return {
            "schema_version": SCHEMA_VERSION,
            "dim": self.dim,
            "next_id": self._next_id,
            "updates": self.updates,
            "since_maintenance": self._since_maintenance,
            "config": self.cfg.model_dump(mode="json"),
        }

    @classmethod
    def from_tensors(
        cls,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        cfg: PrototypeManagerConfig | None = None,
    ) -> PrototypeMemory:
        """A memory back from :meth:`to_tensors` + :meth:`meta` (``cfg`` overrides the saved
        configuration, e.g. another ``indexing_backend``)."""
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise ArtifactError(
                f"prototype memory schema {meta.get('schema_version')!r} is not "
                f"{SCHEMA_VERSION}: retrain, or load it with the neuroplast that wrote it"
            )
        names = set(_ROW_FIELDS + _FLOAT_FIELDS + _VECTOR_FIELDS + _EXAMPLE_FIELDS)
        if set(tensors) != names:
            raise ArtifactError(f"prototype tensors {sorted(tensors)} are not {sorted(names)}")
        cfg = cfg or PrototypeManagerConfig.model_validate(meta["config"])
        memory = cls(cfg, int(meta["dim"]))
        n = int(tensors["ids"].shape[0])
        memory._grow(max(16, n))
        keep = cfg.examples_per_prototype  # another cfg may keep fewer or more examples
        sims = tensors["example_sims"].numpy()
        best = (
            np.argsort(-sims, axis=1, kind="stable")[:, :keep]  # the nearest ones
            if sims.shape[1] > keep
            else np.broadcast_to(np.arange(sims.shape[1]), sims.shape)
        )
        for name, tensor in tensors.items():
            array = tensor.numpy()
            if name in _EXAMPLE_FIELDS:
                array = np.take_along_axis(array, best, axis=1)
                memory._a[name][:n, : array.shape[1]] = array
            elif array.shape[1:] != memory._a[name].shape[1:] or len(array) != n:
                raise ArtifactError(
                    f"prototype tensor {name} has shape {tuple(array.shape)}; expected "
                    f"[{n}, ...] matching {tuple(memory._a[name].shape[1:])}"
                )
            else:
                memory._a[name][:n] = array.astype(memory._a[name].dtype)
        memory._n = n
        memory._next_id = int(meta["next_id"])
        memory.updates = int(meta["updates"])
        memory._since_maintenance = int(meta.get("since_maintenance", 0))
        memory._dirty = set(memory._view("ids").tolist())
        return memory


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / max(float(np.linalg.norm(v)), _EPS)).astype(np.float32)


def _oja(u: np.ndarray, r: np.ndarray, rate: float) -> np.ndarray:
    """The members' main direction of spread, by a normalised Hebbian (Oja) step on the
    residual ``r``; the first residual sets it."""
    if not np.abs(u).sum():
        norm = float(np.linalg.norm(r))
        return r / norm if norm > _EPS else u
    return _unit(u + rate * float(u @ r) * r)
