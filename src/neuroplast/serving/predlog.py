"""The prediction log: what the server answered, written to the registry off the request path.

A request's answer (every one, or the fraction ``sample`` of requests chosen by a hash of the
request id, so a request and its shadow copies are logged together or not at all) is put on
a bounded in-memory queue; a background thread writes the queue in batches with
``Registry.log_predictions`` and prunes the log to its retention now and then. When the
registry is slower than the traffic, the oldest entries are dropped and counted; a request
never waits for the log. Texts are stored as text (cut to :data:`TEXT_BYTES`); images as
the sha256 of their pixels and a small PNG thumbnail (a data URL), made in the thread.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from neuroplast.errors import ConfigError
from neuroplast.serving.router import unit_hash

if TYPE_CHECKING:
    from neuroplast.inference.base import Prediction
    from neuroplast.registry import Registry

__all__ = [
    "TEXT_BYTES",
    "THUMBNAIL_SIZE",
    "LogEntry",
    "PredictionLog",
    "entry_rows",
    "thumbnail_data_url",
]

logger = logging.getLogger(__name__)

#: Stored texts are cut to this many bytes of UTF-8.
TEXT_BYTES = 4096
#: Image thumbnails fit in this many pixels a side.
THUMBNAIL_SIZE = 64


@dataclass(frozen=True)
class LogEntry:
    """One answered request (or a shadow's copy of it), before it becomes rows."""

    request_id: str
    model: str
    version: str  # ref, ``name:N``
    arm: str
    at: datetime
    inputs: Sequence[Any]  # texts, or uint8 [C, H, W] images
    predictions: Sequence[Prediction]
    latency_ms: float

    @property
    def size(self) -> int:
        return len(self.predictions)


def thumbnail_data_url(image: np.ndarray, *, size: int = THUMBNAIL_SIZE) -> str:
    """A PNG data URL of a uint8 ``[C, H, W]`` image, at most ``size`` pixels a side."""
    from PIL import Image

    pixels = np.asarray(image, dtype=np.uint8)
    picture = Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))
    picture.thumbnail((size, size))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _cut(text: str) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= TEXT_BYTES else data[:TEXT_BYTES].decode("utf-8", "ignore")


def entry_rows(entry: LogEntry) -> list[dict[str, Any]]:
    """The registry rows of one entry: one per input."""
    rows = []
    for item, prediction in enumerate(entry.predictions):
        raw = entry.inputs[item]
        if isinstance(raw, str):
            stored: dict[str, Any] = {
                "input_text": _cut(str(raw)),
                "input_sha256": None,
                "thumbnail": None,
            }
        else:
            pixels = np.ascontiguousarray(raw, dtype=np.uint8)
            stored = {
                "input_text": None,
                "input_sha256": hashlib.sha256(pixels.tobytes()).hexdigest(),
                "thumbnail": thumbnail_data_url(pixels),
            }
        rows.append(
            {
                "request_id": entry.request_id,
                "item": item,
                "model": entry.model,
                "version": int(entry.version.rpartition(":")[2]),
                "arm": entry.arm,
                "at": entry.at,
                **stored,
                "label": prediction.label,
                "probability": float(prediction.probability),
                "top_k": [[label, float(p)] for label, p in prediction.top_k],
                "latency_ms": float(entry.latency_ms),
            }
        )
    return rows


class PredictionLog:
    """A bounded queue of answered requests and the thread that writes it to the registry."""

    def __init__(
        self,
        registry: Registry,
        *,
        sample: float = 1.0,
        max_age_days: float | None = 30.0,
        max_rows: int | None = 1_000_000,
        capacity: int = 20_000,
        batch_rows: int = 500,
        prune_seconds: float = 300.0,
        linger_seconds: float = 0.5,
    ) -> None:
        if not 0.0 <= sample <= 1.0:
            raise ConfigError(f"log_sample must be between 0 and 1, got {sample}")
        if capacity < 1 or batch_rows < 1:
            raise ConfigError("the prediction log's capacity and batch_rows must be at least 1")
        self.registry = registry
        self.sample = sample
        self.max_age_days = max_age_days
        self.max_rows = max_rows
        self.capacity = capacity
        self.batch_rows = batch_rows
        self.prune_seconds = prune_seconds
        self.linger_seconds = linger_seconds
        #: Rows written, dropped (queue full), and lost to a failed write.
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self._entries: deque[LogEntry] = deque()
        self._queued_rows = 0
        self._busy = False
        self._stopping = False
        self._flushes = 0  # callers waiting in flush(): the writer does not linger for them
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()
        self._next_prune = 0.0

    # ---- the request side ----------------------------------------------------------------
    def sampled(self, request_id: str) -> bool:
        """Whether request ``request_id`` is logged (the same answer for its shadow copies)."""
        if self.sample >= 1.0:
            return True
        return self.sample > 0.0 and unit_hash("log", request_id) < self.sample

    def add(self, entry: LogEntry) -> None:
        """Queue ``entry``, dropping the oldest entries if the queue is full; never blocks
        for longer than a lock."""
        with self._cond:
            while self._entries and self._queued_rows + entry.size > self.capacity:
                old = self._entries.popleft()
                self._queued_rows -= old.size
                self.dropped += old.size
            self._entries.append(entry)
            self._queued_rows += entry.size
            # wake the writer to start a batch or to write a full one, not for every entry
            if len(self._entries) == 1 or self._queued_rows >= self.batch_rows:
                self._cond.notify_all()

    @property
    def queued(self) -> int:
        """Rows waiting to be written."""
        return self._queued_rows

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the writer thread (once)."""
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(
                target=self._write_loop, name="np-prediction-log", daemon=True
            )
            self._thread.start()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued entry is written (True) or ``timeout`` s pass (False)."""
        if self._thread is None:
            self._write_now()
            return True
        with self._cond:
            self._flushes += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(
                    lambda: not self._entries and not self._busy, timeout=timeout
                )
            finally:
                self._flushes -= 1

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued and stop the thread."""
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # ---- the writer ----------------------------------------------------------------------
    def _take(self) -> list[LogEntry]:
        taken: list[LogEntry] = []
        rows = 0
        while self._entries and (not taken or rows + self._entries[0].size <= self.batch_rows):
            entry = self._entries.popleft()
            self._queued_rows -= entry.size
            rows += entry.size
            taken.append(entry)
        return taken

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._entries and not self._stopping:
                    self._cond.wait(timeout=max(0.1, self._next_prune - time.monotonic()))
                    if time.monotonic() >= self._next_prune:
                        break
                self._linger()
                if self._stopping and not self._entries:
                    return
                entries = self._take()
                self._busy = True
            try:
                self._write(entries)
                self._maybe_prune()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _linger(self) -> None:
        """Let rows gather for up to ``linger_seconds`` (or until ``batch_rows`` wait): one
        transaction of many rows costs the server far less than many of a few, since the
        writer holds the GIL while it works (bench_serving: 30-50 % of the throughput went
        to transactions of about 10 rows). A flush or a stop does not wait."""
        deadline = time.monotonic() + self.linger_seconds
        while (
            self._entries
            and self._queued_rows < self.batch_rows
            and not self._stopping
            and self._flushes == 0
        ):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._cond.wait(timeout=left)

    def _write_now(self) -> None:
        while True:
            with self._cond:
                entries = self._take()
            if not entries:
                return
            self._write(entries)

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message, *args)

    def _write(self, entries: list[LogEntry]) -> None:
        if not entries:
            return
        n = sum(e.size for e in entries)
        write = getattr(self.registry, "log_predictions", None)
        if write is None:
            self._warn_once("api", "this registry has no prediction log; answers are not logged")
            self.dropped += n
            return
        try:
            rows = [row for entry in entries for row in entry_rows(entry)]
            write(rows)
        except Exception as e:  # the log must never stop the server; counted and logged
            self.failed += n
            self._warn_once(type(e).__name__, "the prediction log lost %d rows: %s", n, e)
            return
        self.written += n

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + self.prune_seconds
        prune = getattr(self.registry, "prune_predictions", None)
        if prune is None or (self.max_age_days is None and self.max_rows is None):
            return
        try:
            deleted = prune(max_age_days=self.max_age_days, max_rows=self.max_rows)
        except Exception as e:  # pruning is retried at the next period
            self._warn_once("prune", "pruning the prediction log failed: %s", e)
            return
        if deleted:
            logger.info("pruned %d old predictions from the log", deleted)
