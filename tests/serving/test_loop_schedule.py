"""The server's closed-loop schedule: each step is a subprocess whose outcome is kept and
logged, a failing step does not stop the schedule, steps of a model never overlap, and
stopping the schedule ends a running step; ``neuroplast serve --loop`` refuses bad options
before anything starts and runs a real ``neuroplast loop`` step beside a live server."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from neuroplast.errors import ConfigError
from neuroplast.serving.loop_schedule import LoopSchedule, loop_command
from neuroplast.serving.server import ServerOptions, run
from tests.conftest import Result
from tests.serving.fixtures import TEXT_MODEL, Server

Cli = Callable[..., Result]


def python(code: str) -> Callable[[str, Path], list[str]]:
    """A step command: this Python running ``code`` (with the model in argv[1])."""
    return lambda model, policy: [sys.executable, "-c", code, model, str(policy)]


REPORT = (
    "import json, sys; print(json.dumps({'model': sys.argv[1], 'decisions': "
    "[{'step': 'trigger', 'outcome': 'wait', 'reason': 'not enough feedback'}]}))"
)


def test_a_step_runs_in_a_subprocess_and_its_outcome_is_kept(tmp_path: Path) -> None:
    schedule = LoopSchedule(["a", "b"], tmp_path / "loop.yaml", 60, command=python(REPORT))
    outcomes = asyncio.run(schedule.step("a")), asyncio.run(schedule.step("b"))
    for model, outcome in zip("ab", outcomes, strict=True):
        assert outcome.model == model and outcome.exit_code == 0 and outcome.error is None
        assert outcome.report is not None and outcome.report["model"] == model
        assert outcome.summary() == "wait: not enough feedback"
    assert loop_command("m", Path("p.yaml"))[-5:] == ["loop", "m", "--policy", "p.yaml", "--json"]


def test_steps_repeat_never_overlap_and_a_failure_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each step writes its start and end; a step takes longer than the interval and fails."""
    marks = tmp_path / "marks.txt"
    code = (
        "import sys, time\n"
        f"open({str(marks)!r}, 'a').write(f'start {{time.monotonic()}}\\n')\n"
        "time.sleep(0.1)\n"
        f"open({str(marks)!r}, 'a').write(f'end {{time.monotonic()}}\\n')\n"
        "print('error: the registry has no model named x', file=sys.stderr)\n"
        "sys.exit(4)\n"
    )
    schedule = LoopSchedule(["x"], tmp_path / "loop.yaml", 0.05, command=python(code))

    async def main() -> None:
        await schedule.start()
        while len(schedule.outcomes) < 3:
            await asyncio.sleep(0.05)
        await schedule.stop()

    with caplog.at_level("INFO", logger="neuroplast.serving.loop_schedule"):
        asyncio.run(main())
    lines = marks.read_text().split("\n")[:-1]
    kinds = [line.split()[0] for line in lines]
    assert kinds[:6] == ["start", "end"] * 3  # one at a time
    first = schedule.outcomes[0]
    assert first.exit_code == 4 and first.report is None
    assert first.error == "exit 4: error: the registry has no model named x"
    failed = [r for r in caplog.records if "loop step of x" in r.getMessage()]
    assert len(failed) >= 3 and all(r.levelname == "WARNING" for r in failed)
    assert "failed (exit 4: error: the registry has no model named x)" in failed[0].getMessage()


def test_stopping_the_schedule_ends_a_running_step(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    schedule = LoopSchedule(["x"], tmp_path / "loop.yaml", 0.01, command=python(code), grace=5)

    async def main() -> int | None:
        await schedule.start()
        while "x" not in schedule.running or not pid_file.exists():
            await asyncio.sleep(0.02)
        process = schedule.running["x"]
        await schedule.stop()
        return process.returncode

    started = time.monotonic()
    assert asyncio.run(main()) == -signal.SIGTERM  # the step got SIGTERM and ended
    assert time.monotonic() - started < 60  # not the step's 120 s
    assert not schedule.running and not schedule.outcomes


def test_a_step_over_its_timeout_is_stopped(tmp_path: Path) -> None:
    schedule = LoopSchedule(
        ["x"],
        tmp_path / "p.yaml",
        60,
        command=python("import time; time.sleep(60)"),
        step_timeout=0.5,
    )
    outcome = asyncio.run(schedule.step("x"))
    assert outcome.exit_code is None and outcome.error is not None
    assert outcome.error == "stopped after 0.5 s (the step timeout)"


def test_bad_schedules_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--loop-every is a number of seconds above 0"):
        LoopSchedule(["x"], tmp_path / "p.yaml", 0)
    with pytest.raises(ConfigError, match="at least one served model"):
        LoopSchedule([], tmp_path / "p.yaml", 10)
    options = ServerOptions(workers=2, loop_policy=str(tmp_path / "p.yaml"))
    with pytest.raises(ConfigError, match="--loop runs the loop from one server process"):
        run(options, echo=lambda line: None)


def one_error(result: Result) -> str:
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert result.code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result
    return lines[0]


def test_serve_refuses_bad_loop_options(cli: Cli, home: Path, tmp_path: Path) -> None:
    assert "--loop-every needs --loop" in one_error(cli("serve", "--loop-every", "10"))
    missing = tmp_path / "nope.yaml"
    assert "nope.yaml does not exist" in one_error(cli("serve", "--loop", str(missing)))
    policy = tmp_path / "loop.yaml"
    policy.write_text("trigger:\n  windw: 500\n")
    assert "windw" in one_error(cli("serve", "--loop", str(policy)))
    policy.write_text("{}\n")
    line = one_error(cli("serve", "--loop", str(policy), "--loop-every", "0"))
    assert "--loop-every is a number of seconds above 0" in line


@pytest.mark.slow
def test_serve_runs_a_real_loop_step_and_stops_cleanly(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    """A live server with ``--loop --loop-every 1``: `neuroplast loop` runs against its
    registry (no traffic yet: it decides to wait), the server keeps answering, and SIGTERM
    ends server and step."""
    policy = tmp_path / "loop.yaml"
    policy.write_text("feedback:\n  min_labelled: 50\n")
    server = start_server(TEXT_MODEL, "--loop", str(policy), "--loop-every", "1")
    deadline = time.monotonic() + 120
    while f"loop step of {TEXT_MODEL}" not in server.output() and time.monotonic() < deadline:
        with server.client() as client:
            answer = client.post(f"/v1/models/{TEXT_MODEL}/predict", json={"inputs": ["fine"]})
            assert answer.status_code == 200
        time.sleep(0.5)
    log = server.output()
    steps = [line for line in log.splitlines() if "loop step of" in line]
    step = next((line for line in steps if f"loop step of {TEXT_MODEL}" in line), log[-3000:])
    assert "failed" not in step and "wait" in step, step
    assert server.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    assert "Traceback" not in server.output()
    assert "loop schedule: rt-serve every 1 s" in log
