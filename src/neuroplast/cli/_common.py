"""What every command shares: the console, the home option, errors, progress bars."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from neuroplast.errors import NeuroplastError

console = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False)

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        envvar="NEUROPLAST_HOME",
        help="Registry folder (default: $NEUROPLAST_HOME or ~/.neuroplast).",
        show_default=False,
    ),
]


def setup_logging(verbose: bool) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    for noisy in ("lightning_fabric", "lightning", "lightning.fabric"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not verbose else logging.INFO)


def fail(error: NeuroplastError | str, code: int = 1) -> typer.Exit:
    """Print one error line to stderr and return the Exit to raise."""
    message = " ".join(str(error).split())  # one line, whatever the message holds
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(getattr(error, "exit_code", code))


def engine_for(home: Path | None) -> object:
    from neuroplast.engine import Engine

    return Engine(home)


def quiet_progress() -> bool:
    return os.environ.get("NEUROPLAST_NO_PROGRESS") == "1" or not err_console.is_terminal


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(stage, done, total)`` callback drawing a bar on stderr (when a terminal)."""
    if quiet_progress():
        yield lambda stage, done, total: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"{description} [{stage}]")

        yield update
