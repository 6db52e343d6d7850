"""The server's closed-loop schedule: ``neuroplast serve --loop loop.yaml --loop-every 300``.

Every ``every`` seconds, for each served model in turn, :class:`LoopSchedule` runs one step
of the closed loop as ``neuroplast loop MODEL --policy loop.yaml --json`` in a subprocess:
training a candidate needs torch and minutes of CPU, and a crash there must not take the
server down. One step per model runs at a time; a step that outlasts the interval delays
the next, it never overlaps it. The step writes its decisions to the registry, which the
server polls, so a promotion is served without a restart. Each outcome is logged (and kept
in :attr:`LoopSchedule.outcomes`); on shutdown a running step is stopped (SIGTERM, then
SIGKILL after ``grace`` seconds) before the server drains its queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neuroplast.errors import ConfigError

__all__ = ["LoopOutcome", "LoopSchedule", "loop_command"]

log = logging.getLogger(__name__)

#: How long one loop step may run before it is stopped (training on a busy CPU is slow).
STEP_TIMEOUT = 3600.0


@dataclass(frozen=True)
class LoopOutcome:
    """What one loop step ended with: the exit code, and its JSON report or error line."""

    model: str
    started: float  # time.time()
    seconds: float
    exit_code: int | None  # None: stopped by the schedule (shutdown or timeout)
    report: dict[str, Any] | None
    error: str | None

    def summary(self) -> str:
        if self.error is not None:
            return f"failed ({self.error})"
        decisions = (self.report or {}).get("decisions") or []
        if decisions and isinstance(decisions[-1], dict):
            last = decisions[-1]
            return f"{last.get('outcome')}: {last.get('reason')}"
        return "no decision"


def loop_command(model: str, policy: Path) -> list[str]:
    """The step the schedule runs: this Python's ``neuroplast loop``."""
    return [sys.executable, "-m", "neuroplast", "loop", model, "--policy", str(policy), "--json"]


class LoopSchedule:
    """Runs the loop of ``models`` every ``every`` seconds in subprocesses (see module doc).

    ``home`` / ``db_url``: the registry the server reads, handed to the subprocess;
    ``command(model, policy)`` builds its argv (tests replace it)."""

    def __init__(
        self,
        models: Sequence[str],
        policy: str | Path,
        every: float,
        *,
        home: str | Path | None = None,
        db_url: str | None = None,
        grace: float = 10.0,
        step_timeout: float = STEP_TIMEOUT,
        command: Callable[[str, Path], list[str]] = loop_command,
        keep: int = 50,
    ) -> None:
        if every <= 0:
            raise ConfigError(f"--loop-every is a number of seconds above 0, not {every}")
        if not models:
            raise ConfigError("the loop schedule needs at least one served model")
        self.models = list(models)
        self.policy = Path(policy)
        self.every = float(every)
        self.env = dict(os.environ)
        if home is not None:
            self.env["NEUROPLAST_HOME"] = str(home)
        if db_url is not None:
            self.env["NEUROPLAST_DB_URL"] = db_url
        self.env["NEUROPLAST_NO_PROGRESS"] = "1"
        self.grace, self.step_timeout, self.command = grace, step_timeout, command
        self.outcomes: deque[LoopOutcome] = deque(maxlen=keep)
        self.running: dict[str, asyncio.subprocess.Process] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the schedule (the first steps run ``every`` seconds from now)."""
        if self._task is None:
            log.info(
                "loop schedule: %s every %.0f s with %s",
                ", ".join(self.models),
                self.every,
                self.policy,
            )
            self._task = asyncio.create_task(self._run(), name="neuroplast-loop-schedule")

    async def stop(self) -> None:
        """Stop the schedule and any step still running (it is sent SIGTERM)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        next_at = time.monotonic() + self.every
        while True:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at = time.monotonic() + self.every
            for model in self.models:
                try:
                    outcome = await self.step(model)
                except OSError as e:  # the subprocess could not start: say so, keep going
                    outcome = LoopOutcome(model, time.time(), 0.0, None, None, str(e))
                self.outcomes.append(outcome)
                level = logging.INFO if outcome.error is None else logging.WARNING
                log.log(
                    level,
                    "loop step of %s (%.1f s): %s",
                    model,
                    outcome.seconds,
                    outcome.summary(),
                )

    async def step(self, model: str) -> LoopOutcome:
        """Run one loop step of ``model`` now and wait for it (stopped when cancelled)."""
        started, clock = time.time(), time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *self.command(model, self.policy),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            env=self.env,
        )
        self.running[model] = process
        try:
            out, err = await asyncio.wait_for(process.communicate(), self.step_timeout)
        except TimeoutError:
            await self._end(process)
            seconds = time.monotonic() - clock
            why = f"stopped after {self.step_timeout:g} s (the step timeout)"
            return LoopOutcome(model, started, seconds, None, None, why)
        except asyncio.CancelledError:
            await self._end(process)
            raise
        finally:
            self.running.pop(model, None)
        return _outcome(model, started, time.monotonic() - clock, process.returncode, out, err)

    async def _end(self, process: asyncio.subprocess.Process) -> None:
        if process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), self.grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def _outcome(
    model: str, started: float, seconds: float, code: int | None, out: bytes, err: bytes
) -> LoopOutcome:
    report: dict[str, Any] | None = None
    with contextlib.suppress(ValueError):
        parsed = json.loads(out.decode("utf-8", "replace") or "null")
        report = parsed if isinstance(parsed, dict) else None
    error = None
    if code != 0:
        lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        error = f"exit {code}: {lines[-1] if lines else 'no message'}"
    return LoopOutcome(model, started, round(seconds, 3), code, report, error)
