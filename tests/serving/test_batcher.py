"""The batcher: never a batch above max_batch, every request its own outputs in order,
a bounded queue, drain, and a failing batch that fails only its own requests."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest

from neuroplast.errors import ConfigError, DataError
from neuroplast.serving import Batcher, NotReady, QueueFull


class Recorder:
    """A predictor stand-in: doubles each input and records every batch it saw (and the
    thread it ran on)."""

    def __init__(self, fail_on: int | None = None, gate: threading.Event | None = None) -> None:
        self.sizes: list[int] = []
        self.threads: set[str] = set()
        self.fail_on = fail_on
        self.gate = gate
        self.entered = threading.Event()

    def __call__(self, items: list[int]) -> list[int]:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        self.sizes.append(len(items))
        self.threads.add(threading.current_thread().name)
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"cannot predict {self.fail_on}")
        return [2 * x for x in items]


def test_flood_of_mixed_requests_never_exceeds_max_batch() -> None:
    rng = random.Random(14)
    sizes = [rng.choice([1, 1, 2, 3, 7, 16, 64, 65, 130, 200]) for _ in range(300)]
    recorder = Recorder()

    async def main() -> list[list[int]]:
        batcher: Batcher[int, int] = Batcher(recorder, 32, 2.0, 100_000, name="flood")
        starts = [sum(sizes[:i]) * 10 for i in range(len(sizes))]
        answers = await asyncio.gather(
            *(batcher.submit(list(range(s, s + n))) for s, n in zip(starts, sizes, strict=True))
        )
        await batcher.drain()
        return answers

    answers = asyncio.run(main())
    assert recorder.sizes and max(recorder.sizes) <= 32
    assert sum(recorder.sizes) == sum(sizes)
    assert max(recorder.sizes) == 32  # a flood fills batches
    # every request got its own outputs, in order
    for i, (n, answer) in enumerate(zip(sizes, answers, strict=True)):
        first = sum(sizes[:i]) * 10
        assert answer == [2 * x for x in range(first, first + n)]
    assert len(recorder.threads) == 1  # one worker thread, not the event loop's
    assert threading.main_thread().name not in recorder.threads


def test_a_request_larger_than_max_batch_is_split() -> None:
    recorder = Recorder()

    async def main() -> list[int]:
        batcher: Batcher[int, int] = Batcher(recorder, 64, 0.0, 4096)
        out = await batcher.submit(list(range(200)))
        await batcher.drain()
        return out

    assert asyncio.run(main()) == [2 * x for x in range(200)]
    assert recorder.sizes == [64, 64, 64, 8]


def test_the_queue_is_bounded() -> None:
    gate = threading.Event()
    recorder = Recorder(gate=gate)

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(recorder, 4, 0.0, 8)
        first = asyncio.create_task(batcher.submit([1, 2, 3, 4]))  # taken by the worker
        await asyncio.to_thread(recorder.entered.wait, 10)
        waiting = asyncio.create_task(batcher.submit(list(range(8))))
        await asyncio.sleep(0)
        assert batcher.depth == 8
        with pytest.raises(QueueFull, match="8 inputs are waiting") as caught:
            await batcher.submit([9])
        assert caught.value.retry_after >= 1 and caught.value.status == 503
        with pytest.raises(DataError, match="at most 8 inputs per request"):
            await batcher.submit(list(range(9)))
        gate.set()
        assert await first == [2, 4, 6, 8]
        assert await waiting == [2 * x for x in range(8)]
        assert await batcher.submit([5]) == [10]  # room again
        await batcher.drain()

    asyncio.run(main())


def test_drain_finishes_every_accepted_request_then_refuses() -> None:
    gate = threading.Event()
    recorder = Recorder(gate=gate)

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(recorder, 8, 1.0, 1000)
        pending = [asyncio.create_task(batcher.submit([i] * (1 + i % 5))) for i in range(40)]
        await asyncio.sleep(0.01)
        draining = asyncio.create_task(batcher.drain())
        await asyncio.sleep(0.01)
        assert not draining.done()
        gate.set()
        await draining
        assert all(t.done() for t in pending)
        for i, t in enumerate(pending):
            assert t.result() == [2 * i] * (1 + i % 5)
        with pytest.raises(NotReady, match="shutting down"):
            await batcher.submit([1])

    asyncio.run(main())
    assert max(recorder.sizes) <= 8


def test_a_failing_batch_fails_only_its_own_requests() -> None:
    gate = threading.Event()
    recorder = Recorder(fail_on=-1, gate=gate)

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(recorder, 4, 0.0, 1000)
        blocker = asyncio.create_task(batcher.submit([0]))
        await asyncio.to_thread(recorder.entered.wait, 10)  # [0] runs, held at the gate
        bad = asyncio.create_task(batcher.submit([1, -1]))  # batch 2 with [2, 3]
        same_batch = asyncio.create_task(batcher.submit([2, 3]))
        later = asyncio.create_task(batcher.submit([4, 5, 6, 7]))  # batch 3
        await asyncio.sleep(0)
        gate.set()
        assert await blocker == [0]
        with pytest.raises(ValueError, match="cannot predict -1"):
            await bad
        with pytest.raises(ValueError, match="cannot predict -1"):
            await same_batch
        assert await later == [8, 10, 12, 14]
        assert await batcher.submit([9]) == [18]  # the worker lives on
        await batcher.drain()

    asyncio.run(main())
    assert recorder.sizes == [1, 4, 4, 1]


def test_a_cancelled_request_is_skipped() -> None:
    gate = threading.Event()
    recorder = Recorder(gate=gate)

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(recorder, 4, 0.0, 100)
        first = asyncio.create_task(batcher.submit([0]))
        await asyncio.to_thread(recorder.entered.wait, 10)
        gone = asyncio.create_task(batcher.submit([1, 2, 3]))
        kept = asyncio.create_task(batcher.submit([4]))
        await asyncio.sleep(0)
        gone.cancel()
        gate.set()
        assert await first == [0] and await kept == [8]
        assert gone.cancelled()
        assert batcher.depth == 0
        await batcher.drain()

    asyncio.run(main())
    assert recorder.sizes == [1, 1]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"max_batch": 0}, "max_batch must be at least 1"),
        ({"max_wait_ms": -1}, "max_wait_ms must be 0 or more"),
        ({"max_batch": 8, "max_queue": 4}, r"max_queue \(4\) must be at least max_batch"),
    ],
)
def test_bad_settings_say_what_is_wrong(options: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Batcher(Recorder(), **options)  # type: ignore[arg-type]


def test_a_full_batch_runs_without_waiting_for_max_wait() -> None:
    recorder = Recorder()

    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(recorder, 4, 600_000.0, 100)  # ten minutes
        answers = asyncio.gather(batcher.submit([1, 2]), batcher.submit([3, 4, 5, 6]))
        # [1, 2, 3, 4] is full at once; [5, 6] waits for more until drain() closes the queue
        done = await asyncio.wait_for(_first_batch(recorder), 30)
        assert done == [4]
        await batcher.drain()  # closing sends the partial batch at once
        assert await answers == [[2, 4], [6, 8, 10, 12]]

    asyncio.run(main())
    assert recorder.sizes == [4, 2]


async def _first_batch(recorder: Recorder) -> list[int]:
    while not recorder.sizes:
        await asyncio.sleep(0.001)
    return list(recorder.sizes)
