"""``neuroplast train --profile``: torch.profiler around a few training steps.

The profiler skips ``wait`` steps, warms up for ``warmup`` and records ``active`` steps
(each ``ProfilerStep#N`` is one batch: forward, backward, optimizer step). It then writes
``trace.json`` (Chrome trace format: open it in https://ui.perfetto.dev or
chrome://tracing; TensorBoard's profiler plugin reads it too) and ``summary.json`` (the top
operators by self CPU time and by memory allocated, and the peak of torch's CPU allocator
during the recorded steps, from the trace's ``[memory]`` events) into its folder, and keeps
the summary for the caller to print.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.registry.artifacts import atomic_write_json
from neuroplast.training.callbacks import Callback

if TYPE_CHECKING:
    from torch import Tensor
    from torch.profiler import profile

    from neuroplast.training.trainer import Trainer
    from neuroplast.types import ModelMetrics

__all__ = ["OperatorRow", "ProfileSummary", "ProfilerCallback", "peak_allocated"]

logger = logging.getLogger(__name__)
TRACE, SUMMARY = "trace.json", "summary.json"


@dataclass(frozen=True)
class OperatorRow:
    name: str
    calls: int
    self_cpu_ms: float
    cpu_total_ms: float
    self_cpu_memory_bytes: int
    self_device_ms: float


@dataclass
class ProfileSummary:
    steps: int
    trace: Path
    by_time: list[OperatorRow] = field(default_factory=list)
    by_memory: list[OperatorRow] = field(default_factory=list)
    peak_allocated_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "trace": str(self.trace)}


class ProfilerCallback(Callback):
    """Profile training steps ``wait + warmup + 1`` to ``wait + warmup + active`` and write
    the trace and summary under ``directory/<run uid>`` (the run's checkpoint folder name;
    ``directory`` itself when the trainer has none)."""

    def __init__(
        self, directory: Path, *, wait: int = 1, warmup: int = 1, active: int = 3, top: int = 10
    ) -> None:
        self.directory, self.wait, self.warmup, self.active, self.top = (
            directory,
            wait,
            warmup,
            active,
            top,
        )
        self.summary: ProfileSummary | None = None
        self.folder: Path | None = None
        self._profiler: profile | None = None

    @property
    def steps_needed(self) -> int:
        return self.wait + self.warmup + self.active

    def on_fit_start(self, trainer: Trainer) -> None:
        from torch.profiler import ProfilerActivity, profile, schedule

        run = trainer.checkpoint_dir.name if trainer.checkpoint_dir is not None else ""
        self.folder = self.directory / run if run else self.directory
        activities = [ProfilerActivity.CPU]
        if trainer.fabric.device.type == "cuda":
            activities.append(ProfilerActivity.CUDA)
        self._profiler = profile(
            activities=activities,
            schedule=schedule(wait=self.wait, warmup=self.warmup, active=self.active, repeat=1),
            on_trace_ready=self._write,
            profile_memory=True,
        )
        self._profiler.start()

    def on_train_batch_start(self, trainer: Trainer, inputs: Tensor, targets: Tensor) -> None:
        if self._profiler is None:
            return
        if self.summary is not None:  # the recorded window is written: stop profiling
            self._stop()
        else:
            self._profiler.step()

    def on_epoch_end(self, trainer: Trainer, metrics: ModelMetrics) -> None:
        if self.summary is not None:
            self._stop()

    def on_fit_end(self, trainer: Trainer, history: list[ModelMetrics]) -> None:
        if self._profiler is not None:
            self._stop()  # a shorter run: what was recorded is written now
        if self.summary is None:
            logger.warning(
                "--profile: the run had fewer than %d training steps; nothing was recorded "
                "(use more data or a smaller train.batch_size)",
                self.steps_needed,
            )

    def _stop(self) -> None:
        profiler, self._profiler = self._profiler, None
        if profiler is not None:
            profiler.stop()

    def _write(self, profiler: profile) -> None:
        folder = self.folder or self.directory
        folder.mkdir(parents=True, exist_ok=True)
        trace = folder / TRACE
        partial = folder / f".{TRACE}.partial"
        profiler.export_chrome_trace(str(partial))
        os.replace(partial, trace)
        averages = profiler.key_averages()
        rows = [_row(e) for e in averages if not str(e.key).startswith("ProfilerStep")]
        steps = sum(int(e.count) for e in averages if str(e.key).startswith("ProfilerStep"))
        self.summary = ProfileSummary(
            steps=steps,
            trace=trace,
            by_time=sorted(rows, key=lambda r: -r.self_cpu_ms)[: self.top],
            by_memory=sorted(rows, key=lambda r: -r.self_cpu_memory_bytes)[: self.top],
            peak_allocated_bytes=peak_allocated(trace),
        )
        atomic_write_json(folder / SUMMARY, self.summary.to_dict())
        logger.info("profile of %d steps written to %s", steps, folder)


def _row(event: Any) -> OperatorRow:
    return OperatorRow(
        name=str(event.key),
        calls=int(event.count),
        self_cpu_ms=float(event.self_cpu_time_total) / 1000,
        cpu_total_ms=float(event.cpu_time_total) / 1000,
        self_cpu_memory_bytes=int(event.self_cpu_memory_usage),
        self_device_ms=float(getattr(event, "self_device_time_total", 0.0)) / 1000,
    )


def peak_allocated(trace: Path) -> int:
    """The most bytes torch's CPU allocator held during a trace, counted from its start
    (the ``Total Allocated`` of its ``[memory]`` events; 0 without memory events)."""
    events = json.loads(trace.read_text())["traceEvents"]
    totals = [
        int(e["args"]["Total Allocated"])
        for e in events
        if e.get("name") == "[memory]" and e.get("args", {}).get("Device Type", 0) == 0
    ]
    return max(totals, default=0) - (totals[0] - _first_bytes(events) if totals else 0)


def _first_bytes(events: list[dict[str, Any]]) -> int:
    for e in events:
        if e.get("name") == "[memory]":
            return int(e["args"]["Bytes"])
    return 0
