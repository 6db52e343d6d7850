"""The prediction log: never blocks a request, drops the oldest entries (counted) when the
registry is slower than the traffic, stores texts cut and images as hash + thumbnail."""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from neuroplast.errors import ConfigError
from neuroplast.inference.base import Prediction
from neuroplast.serving.predlog import TEXT_BYTES, LogEntry, PredictionLog, entry_rows

PRED = Prediction(label="fresh", probability=0.75, top_k=[("fresh", 0.75), ("rotten", 0.25)])


def entry(request_id: str, inputs: Any, n: int = 1) -> LogEntry:
    return LogEntry(
        request_id, "rt", "rt:3", "production", datetime.now(UTC), inputs, [PRED] * n, 1.5
    )


class SlowRegistry:
    """Holds every write until ``gate`` opens, and records what it was given."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.writing = threading.Event()
        self.rows: list[dict[str, Any]] = []
        self.pruned: list[tuple[float | None, int | None]] = []

    def log_predictions(self, rows: list[dict[str, Any]]) -> int:
        self.writing.set()
        self.gate.wait(30)
        self.rows.extend(rows)
        return len(rows)

    def prune_predictions(self, *, max_age_days: float | None, max_rows: int | None) -> int:
        self.pruned.append((max_age_days, max_rows))
        return 0


def test_a_slow_registry_drops_the_oldest_entries_and_never_blocks() -> None:
    registry = SlowRegistry()
    log = PredictionLog(registry, capacity=10, max_age_days=7, max_rows=100)  # type: ignore[arg-type]
    log.start()
    log.add(entry("first", ["held by the writer"]))
    assert registry.writing.wait(10)  # the writer holds "first" at the gate
    for i in range(25):  # the request side: returns at once although nothing is written
        log.add(entry(f"r{i}", [f"text {i}"]))
    assert log.queued == 10 and log.dropped == 15
    registry.gate.set()
    assert log.flush(30)
    log.close()
    ids = [row["request_id"] for row in registry.rows]
    assert ids == ["first"] + [f"r{i}" for i in range(15, 25)]  # the newest were kept
    assert log.written == 11 and log.failed == 0
    assert registry.pruned[0] == (7, 100)


def test_rows_store_texts_cut_and_images_as_hash_and_thumbnail() -> None:
    long = "é" * (TEXT_BYTES)  # two bytes each in UTF-8
    [text_row] = entry_rows(entry("t", [long]))
    assert len(text_row["input_text"].encode()) <= TEXT_BYTES
    assert text_row["input_text"] == "é" * (TEXT_BYTES // 2)
    assert text_row["version"] == 3 and text_row["top_k"] == [["fresh", 0.75], ["rotten", 0.25]]
    assert text_row["input_sha256"] is None and text_row["thumbnail"] is None

    from PIL import Image

    images = np.arange(2 * 3 * 100 * 100, dtype=np.uint64).reshape(2, 3, 100, 100) % 256
    images = images.astype(np.uint8)
    rows = entry_rows(entry("i", images, n=2))
    assert [r["item"] for r in rows] == [0, 1]
    assert rows[1]["input_sha256"] == hashlib.sha256(images[1].tobytes()).hexdigest()
    header, data = rows[0]["thumbnail"].split(",", 1)
    assert header == "data:image/png;base64"
    with Image.open(io.BytesIO(base64.b64decode(data))) as thumbnail:
        assert thumbnail.format == "PNG" and max(thumbnail.size) <= 64


def test_a_failing_registry_is_counted_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def log_predictions(self, rows: list[dict[str, Any]]) -> int:
            raise OSError("disk full")

    log = PredictionLog(Broken(), max_age_days=None, max_rows=None)  # type: ignore[arg-type]
    log.add(entry("a", ["x", "y"], n=2))
    assert log.flush()
    assert log.failed == 2 and log.written == 0
    assert "lost 2 rows: disk full" in caplog.text


def test_sampling_is_decided_by_the_request_id() -> None:
    log = PredictionLog(object(), sample=0.25)  # type: ignore[arg-type]
    chosen = [i for i in range(4000) if log.sampled(f"req-{i}")]
    assert abs(len(chosen) / 4000 - 0.25) < 0.03
    assert chosen == [i for i in range(4000) if log.sampled(f"req-{i}")]
    assert not PredictionLog(object(), sample=0.0).sampled("x")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="log_sample must be between 0 and 1"):
        PredictionLog(object(), sample=2.0)  # type: ignore[arg-type]
