"""What every command shares: the console, the home option, errors, progress bars."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from neuroplast.errors import NeuroplastError


def _plain(cell: object) -> str:
    if isinstance(cell, Text):
        return cell.plain
    if isinstance(cell, str):
        return Text.from_markup(cell).plain
    return str(cell)


def plain_table(table: Table) -> Text:
    """A table as plain aligned text: a title line, a header, one line a row, columns two
    spaces apart (right-aligned where the table says so); no box drawing, no wrapping."""
    columns = [[_plain(c.header), *(_plain(cell) for cell in c._cells)] for c in table.columns]
    widths = [max(len(line) for line in cells) for cells in columns]
    lines = [] if table.title is None else [_plain(table.title)]
    for row in range(len(columns[0]) if columns else 0):
        cells = []
        for column, cells_of, width in zip(table.columns, columns, widths, strict=True):
            text = cells_of[row]
            cells.append(text.rjust(width) if column.justify == "right" else text.ljust(width))
        lines.append("  ".join(cells).rstrip())
    return Text("\n".join(lines))


class CliConsole(Console):
    """Rich tables and colours on a terminal; plain aligned text, unwrapped, when the output
    goes to a file or a pipe (so ``neuroplast models list > models.txt`` stays readable)."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        if not self.is_terminal:
            objects = tuple(plain_table(o) if isinstance(o, Table) else o for o in objects)
            kwargs.setdefault("soft_wrap", True)
        super().print(*objects, **kwargs)


console = CliConsole(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False)

#: How every command that takes a MODEL describes it.
MODEL_HELP = "NAME (its production version, else its newest), NAME:VERSION, NAME@STAGE or an id."

JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print one JSON document on stdout instead of tables (its shape is described above).",
    ),
]


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN / Infinity
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return str(value)


def print_json(payload: Any) -> None:
    """One JSON document on stdout (dataclasses, paths, datetimes and NaN made JSON-safe)."""
    typer.echo(json.dumps(_jsonable(payload), indent=2, ensure_ascii=False))


def print_task_result(result: Any, as_json: bool) -> None:
    """A task handler's answer (``TaskResult``: anomaly detection, forecasting, generation):
    its document as JSON, or its lines as plain text."""
    if as_json:
        print_json(result.document)
        return
    for line in result.lines:
        console.print(line, markup=False, highlight=False)


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


def status(quiet: bool, message: str) -> AbstractContextManager[object]:
    """A spinner with ``message`` while a command works (none when ``quiet``: ``--json``)."""
    return nullcontext() if quiet else console.status(message)


def quiet_progress() -> bool:
    """No progress bar: ``NEUROPLAST_NO_PROGRESS=1``, or stderr is not a terminal."""
    return os.environ.get("NEUROPLAST_NO_PROGRESS") == "1" or not err_console.is_terminal


@contextmanager
def progress_bar(
    description: str, *, lines_every: int | None = None, to_stderr: bool = False
) -> Iterator[Callable[[str, int, int], None]]:
    """A ``progress(stage, done, total)`` callback drawing a bar on stderr (when a terminal).

    Without a bar, ``lines_every`` (a number of steps; 0 = each quarter of the total) prints
    a plain line every that many steps and at the last one, so that a piped or logged run
    shows it is alive: on stdout, or on stderr when ``to_stderr`` (``--json``: stdout holds
    the JSON document alone). ``NEUROPLAST_NO_PROGRESS=1`` turns lines and bar off.
    """
    if quiet_progress():
        if lines_every is None or os.environ.get("NEUROPLAST_NO_PROGRESS") == "1":
            yield lambda stage, done, total: None
            return

        def line(stage: str, done: int, total: int) -> None:
            every = lines_every or max(1, math.ceil(total / 4))
            if done % every == 0 or done == total:
                text = f"{description} [{stage}] {done}/{total}"
                if to_stderr:
                    typer.echo(text, err=True)
                else:
                    console.print(text, markup=False)

        yield line
        return
    from rich.markup import escape

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(escape(description), total=None)

        def update(stage: str, done: int, total: int) -> None:
            label = escape(f"{description} [{stage}]")  # "[train]" is not a style tag
            bar.update(task, completed=done, total=total, description=label)

        yield update
