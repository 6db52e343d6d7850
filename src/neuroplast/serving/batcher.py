"""Dynamic batching on asyncio: requests queue, one worker forms batches and runs them.

>>> batcher = Batcher(predict_rows, max_batch=64, max_wait_ms=2.0)  # doctest: +SKIP
>>> rows = await batcher.submit(["a gorgeous, witty film"])        # doctest: +SKIP

The worker takes queued inputs in arrival order until it holds ``max_batch`` of them or
the oldest of them has waited ``max_wait_ms``, runs ``run`` on them in its own thread
(off the event loop; one thread per batcher, so one per served version), and hands every
request its own slice of the outputs, in order. A request of more inputs than ``max_batch``
is split over several batches, and batches are filled across requests, so no batch is ever
larger than ``max_batch``. The queue is bounded: when ``max_queue`` inputs wait,
:meth:`Batcher.submit` raises :class:`~neuroplast.serving.errors.QueueFull` at once. An
exception raised by ``run`` fails the requests of that batch only.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import Generic, TypeVar

from neuroplast.errors import ConfigError, DataError
from neuroplast.serving.errors import NotReady, QueueFull, ServingError

__all__ = ["Batcher"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class _Request(Generic[T, R]):
    """One submitted request: its inputs, how many went into batches, how many came back."""

    __slots__ = ("arrived", "done", "future", "items", "results", "taken")

    def __init__(self, items: Sequence[T], future: asyncio.Future[list[R]], arrived: float) -> None:
        self.items = items
        self.future = future
        self.arrived = arrived
        self.results: list[R | None] = [None] * len(items)
        self.taken = 0
        self.done = 0


#: (request, first input of the request in this batch, how many of its inputs)
_Part = tuple[_Request[T, R], int, int]


class Batcher(Generic[T, R]):
    """Batches the inputs of concurrent requests for one synchronous ``run``.

    ``run(inputs) -> outputs`` (one output per input, in order) runs in the batcher's
    worker thread; ``on_batch(size, seconds)`` is called on the event loop after each
    batch that succeeded.
    """

    def __init__(
        self,
        run: Callable[[list[T]], Sequence[R]],
        max_batch: int = 64,
        max_wait_ms: float = 2.0,
        max_queue: int = 4096,
        on_batch: Callable[[int, float], None] | None = None,
        *,
        name: str = "batcher",
    ) -> None:
        if max_batch < 1:
            raise ConfigError(f"max_batch must be at least 1, got {max_batch}")
        if max_wait_ms < 0:
            raise ConfigError(f"max_wait_ms must be 0 or more, got {max_wait_ms}")
        if max_queue < max_batch:
            raise ConfigError(
                f"max_queue ({max_queue}) must be at least max_batch ({max_batch}), or no "
                "full batch could ever wait"
            )
        self.run = run
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.on_batch = on_batch
        self.name = name
        self._pending: deque[_Request[T, R]] = deque()
        self._depth = 0
        self._closed = False
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        #: Seconds per input of recent batches (a moving average), for ``retry_after``.
        self._item_seconds = 0.001

    @property
    def depth(self) -> int:
        """Inputs accepted and not yet handed to a batch."""
        return self._depth

    @property
    def closed(self) -> bool:
        return self._closed

    def retry_after(self) -> float:
        """Whole seconds after which the queue has likely room again (at least 1)."""
        return float(max(1, math.ceil(self._depth * self._item_seconds + self.max_wait)))

    async def submit(self, items: Sequence[T]) -> list[R]:
        """The outputs of ``items``, in order, once every batch holding them has run."""
        n = len(items)
        if n == 0:
            return []
        if self._closed:
            raise NotReady(f"{self.name} is shutting down and takes no new requests")
        if n > self.max_queue:
            raise DataError(
                f"a request of {n} inputs is more than this server queues for one version "
                f"({self.max_queue}); send at most {self.max_queue} inputs per request"
            )
        if self._depth + n > self.max_queue:
            retry = self.retry_after()
            raise QueueFull(
                f"{self.name}: {self._depth} inputs are waiting (at most {self.max_queue}); "
                f"retry after {retry:.0f} s",
                retry_after=retry,
                detail={"depth": self._depth, "max_queue": self.max_queue},
            )
        loop = asyncio.get_running_loop()
        wake = self._start(loop)
        future: asyncio.Future[list[R]] = loop.create_future()
        self._pending.append(_Request(items, future, loop.time()))
        self._depth += n
        wake.set()
        return await future

    async def drain(self) -> None:
        """Take no new requests; return when every accepted one has its answer."""
        self._closed = True
        if self._wake is not None:
            self._wake.set()
        if self._worker is not None:
            await asyncio.shield(self._worker)
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    # ---- the worker ----------------------------------------------------------------------
    def _start(self, loop: asyncio.AbstractEventLoop) -> asyncio.Event:
        if self._wake is None:
            self._wake = asyncio.Event()
        if self._worker is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"np-{self.name}")
            self._worker = loop.create_task(self._work(self._wake), name=f"{self.name} worker")
            self._worker.add_done_callback(self._worker_done)
        return self._wake

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s: batch worker stopped", self.name, exc_info=task.exception())
            self._fail_pending(task.exception() or ServingError("batch worker stopped"))

    def _fail_pending(self, error: BaseException) -> None:
        while self._pending:
            request = self._pending.popleft()
            if not request.future.done():
                request.future.set_exception(error)
        self._depth = 0

    async def _work(self, wake: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._pending:
                if self._closed:
                    return
                wake.clear()
                await wake.wait()
            await self._gather(wake, loop)
            batch, parts = self._take()
            if batch:
                await self._run_batch(batch, parts, loop)

    async def _gather(self, wake: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
        """Wait for the queue to hold a full batch, until the oldest waiting input has
        waited ``max_wait`` (inputs that queued while a batch ran go at once)."""
        deadline = self._pending[0].arrived + self.max_wait
        while self._depth < self.max_batch and not self._closed:
            left = deadline - loop.time()
            if left <= 0:
                return
            wake.clear()
            try:
                async with asyncio.timeout(left):
                    await wake.wait()
            except TimeoutError:
                return

    def _take(self) -> tuple[list[T], list[_Part[T, R]]]:
        batch: list[T] = []
        parts: list[_Part[T, R]] = []
        while self._pending and len(batch) < self.max_batch:
            request = self._pending[0]
            left = len(request.items) - request.taken
            if request.future.done():  # cancelled by its caller, or an earlier batch failed
                self._pending.popleft()
                self._depth -= left
                continue
            n = min(self.max_batch - len(batch), left)
            batch.extend(request.items[request.taken : request.taken + n])
            parts.append((request, request.taken, n))
            request.taken += n
            self._depth -= n
            if request.taken == len(request.items):
                self._pending.popleft()
        return batch, parts

    async def _run_batch(
        self, batch: list[T], parts: list[_Part[T, R]], loop: asyncio.AbstractEventLoop
    ) -> None:
        start = perf_counter()
        try:
            outputs = await loop.run_in_executor(self._executor, self.run, batch)
            if len(outputs) != len(batch):
                raise ServingError(
                    f"{self.name}: the predictor returned {len(outputs)} outputs for "
                    f"{len(batch)} inputs"
                )
        except Exception as error:  # handed to exactly the requests of this batch
            logger.warning("%s: a batch of %d inputs failed: %s", self.name, len(batch), error)
            for request, _, _ in parts:
                if not request.future.done():
                    request.future.set_exception(error)
            return
        seconds = perf_counter() - start
        self._item_seconds = 0.8 * self._item_seconds + 0.2 * seconds / len(batch)
        offset = 0
        for request, first, n in parts:
            request.results[first : first + n] = outputs[offset : offset + n]
            offset += n
            request.done += n
            if request.done == len(request.items) and not request.future.done():
                request.future.set_result(request.results)  # type: ignore[arg-type]
        if self.on_batch is not None:
            try:
                self.on_batch(len(batch), seconds)
            except Exception:
                logger.exception("%s: on_batch failed", self.name)
