"""Every `neuroplast` command and every Python block of the README runs as shown.

The helpers here are also how ``tests/test_docs.py`` runs the pages under ``docs/``: the
commands of a ```` ```bash ```` block are its ``neuroplast ...`` lines (a trailing backslash
continues one) and the here-documents that write their input files (``cat > FILE <<'EOF'``);
other lines (``make demo``, ``.venv/bin/python benchmarks/...``) are shown, not run.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result, one_torch_thread

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_README_LINES = 200
_HEREDOC = re.compile(r"cat > \S+ <<'(?P<end>\w+)'")


def blocks(text: str, language: str) -> list[str]:
    """The bodies of the fenced ```` ```language ```` blocks of a Markdown text, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def shell_commands(text: str) -> list[str]:
    """The commands the tests run from the ```` ```bash ```` blocks of ``text``, in order."""
    commands = []
    for block in blocks(text, "bash"):
        lines = iter(block.splitlines())
        for line in lines:
            heredoc = _HEREDOC.fullmatch(line)
            if heredoc:
                body = [line]
                for more in lines:
                    body.append(more)
                    if more == heredoc["end"]:
                        break
                else:
                    raise AssertionError(f"{line!r} has no closing {heredoc['end']}")
                commands.append("\n".join(body))
                continue
            while line.endswith("\\"):
                line = line[:-1].rstrip() + " " + next(lines).strip()
            command = line.split("  #")[0].strip()
            if command.startswith(("neuroplast ", "curl ")):
                commands.append(command)
    return commands


#: A command with one of these runs in bash; any other ``neuroplast`` line in this process.
_SHELL = re.compile(r"[|;&<>$`\n]")


def _start_background(command: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """A line ending in `` &`` (a server) runs in bash beside the next commands, in its own
    process group, its output in ``cwd/background.log``."""
    with (cwd / "background.log").open("a") as log:
        return subprocess.Popen(
            ["bash", "-c", f"exec {command[:-1].strip()}"],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


def _stop_background(processes: list[subprocess.Popen[str]], cwd: Path) -> None:
    """SIGTERM each background command (a server drains, then exits by that signal, as
    uvicorn does); none may have failed before or while stopping."""
    failed = []
    for process in processes:
        code = process.poll()
        if code is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                code = process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                code = process.wait()
        if code not in (0, -signal.SIGTERM, 128 + signal.SIGTERM):  # uvicorn re-raises it
            failed.append(f"{process.args[-1]} exited {code}")
    log = cwd / "background.log"
    assert not failed, f"{failed}\n{log.read_text() if log.is_file() else ''}"


def _check_http_answer(command: str, out: str) -> None:
    """``curl`` shows an error body and still exits 0: a JSON error is a failure here."""
    if command.startswith("curl ") and out.lstrip().startswith('{"error"'):
        raise AssertionError(f"{command}\nanswered {out}")


def run_commands(
    commands: Iterable[str],
    cwd: Path,
    cli: Callable[..., Result],
    *,
    skip: Callable[[str], bool] = lambda command: False,
) -> list[tuple[float, str]]:
    """Run each command in ``cwd`` and fail on the first non-zero exit; commands for which
    ``skip`` is true are left out. Returns (seconds, command) pairs.

    The caller has entered ``cwd`` and its home (:func:`enter_fresh_home`). A plain
    ``neuroplast ...`` line runs in this process, as the console script does (``cli``, the
    conftest fixture: importing torch once instead of for every command keeps these tests
    within minutes); a line that needs the shell (a pipe, a redirection, ``;``, a
    here-document) runs in bash with ``pipefail``, with this venv's ``neuroplast`` first on
    PATH. torch runs on one thread either way (a busy machine). A line ending in ``&`` (a
    server) runs in the background until the last command is done, then gets SIGTERM and
    must exit cleanly; a ``curl`` line fails when it gets a JSON error back.
    """
    env = {**os.environ, "NEUROPLAST_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    timings = []
    background: list[subprocess.Popen[str]] = []
    with one_torch_thread():
        try:
            _run_each(commands, cwd, cli, skip, env, timings, background)
        finally:
            _stop_background(background, cwd)
    for seconds, command in timings:
        print(f"{seconds:6.1f} s  {command.splitlines()[0]}")
    return timings


def _run_each(
    commands: Iterable[str],
    cwd: Path,
    cli: Callable[..., Result],
    skip: Callable[[str], bool],
    env: dict[str, str],
    timings: list[tuple[float, str]],
    background: list[subprocess.Popen[str]],
) -> None:
    for command in commands:
        if skip(command):
            continue
        started = time.perf_counter()
        if command.endswith("&") and not command.endswith("&&"):
            background.append(_start_background(command, cwd, env))
            continue
        if _SHELL.search(command) or not command.startswith("neuroplast "):
            done = subprocess.run(
                ["bash", "-o", "pipefail", "-c", command],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
            )
            code, out, err = done.returncode, done.stdout, done.stderr
        else:
            code, out, err = cli(*shlex.split(command)[1:])
        timings.append((time.perf_counter() - started, command))
        assert code == 0, f"{command}\n{out}\n{err}"
        _check_http_answer(command, out)


def enter_fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in ``tmp_path`` with a fresh home (``tmp_path/home``), as a newcomer would."""
    monkeypatch.setenv("NEUROPLAST_HOME", str(tmp_path / "home"))
    for leaked in ("NEUROPLAST_DB_URL", "NEUROPLAST_ARTIFACT_URL"):
        monkeypatch.delenv(leaked, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_python_blocks(text: str, source: Path) -> dict[str, Any]:
    """Execute the ```` ```python ```` blocks of ``text`` in order, in one namespace (torch
    on one thread)."""
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    with one_torch_thread():
        for block in blocks(text, "python"):
            exec(compile(block, str(source), "exec"), namespace)
    return namespace


def test_the_readme_is_the_front_door() -> None:
    text = README.read_text()
    assert "make demo" in text and "make test" in text
    assert "DEMO_OUTPUT" not in text and "BENCH_OUTPUT" not in text, "placeholders left"
    assert "(soon)" not in text
    lines = len(text.splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; studies belong in docs/"


def test_the_readme_links_to_pages_that_exist() -> None:
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text())
    local = [link for link in links if "://" not in link]
    assert any(link.startswith("docs/") for link in local)
    assert [link for link in local if not (ROOT / link).is_file()] == []


def test_the_command_parser_itself() -> None:
    text = (
        "```bash\nmake demo\nneuroplast a  # note\nneuroplast b \\\n    --c d\n"
        "neuroplast serve m &  # a server\ncurl -s localhost:8000/ready\n"
        "cat > x.csv <<'EOF'\ntext,label\nneuroplast not-a-command\nEOF\n```\n"
        "```text\nneuroplast e\n```\n"
    )
    assert shell_commands(text) == [
        "neuroplast a",
        "neuroplast b --c d",
        "neuroplast serve m &",
        "curl -s localhost:8000/ready",
        "cat > x.csv <<'EOF'\ntext,label\nneuroplast not-a-command\nEOF",
    ]


@pytest.mark.slow
def test_readme_cli_commands_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Result]
) -> None:
    commands = shell_commands(README.read_text())
    assert len(commands) >= 10
    run_commands(commands, enter_fresh_home(tmp_path, monkeypatch), cli)


@pytest.mark.slow
def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    enter_fresh_home(tmp_path, monkeypatch)
    text = README.read_text()
    assert blocks(text, "python")
    namespace = run_python_blocks(text, README)
    assert len(namespace["predictions"]) == 10
