"""``neuroplast models versions | promote | rollback | history``: the lifecycle of versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from neuroplast.cli._common import MODEL_HELP, HomeOption, JsonOption, console, print_json
from neuroplast.cli.models import app

if TYPE_CHECKING:
    from neuroplast.registry.records import VersionRecord

_STAGE_STYLE = {"production": "bold green", "candidate": "yellow", "archived": "dim"}


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"


def _how_made(version: VersionRecord) -> str:
    """``train``, ``import``, ``compress (dynamic int8)``, ``continual (replay)``..."""
    detail = version.metrics.get("technique") or version.metrics.get("strategy")
    return f"{version.source} ({detail})" if isinstance(detail, str) and detail else version.source


@app.command("versions")
def versions(
    model: str = typer.Argument(..., help="Model name."),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every version of a model: how it was made, its stage, test metrics and size.

    ``--json``: a list of version summaries (ref, uid, stage, source, parent, metrics, ...),
    oldest first, each with ``made_by`` as in the table.
    """
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        name = engine.registry.resolve(model).model_name
        rows = engine.registry.versions(name)
    if as_json:
        print_json([{**v.summary(), "made_by": _how_made(v)} for v in rows])
        return
    table = Table(title=f"Versions of {name}")
    for column in (
        "version",
        "id",
        "made by",
        "parent",
        "stage",
        "test acc",
        "test F1",
        "parameters",
        "size MB",
        "created",
    ):
        table.add_column(column, justify="right" if column in ("parameters", "size MB") else "left")
    for v in rows:
        style = _STAGE_STYLE.get(v.stage, "")
        table.add_row(
            v.ref,
            v.uid,
            _how_made(v),
            v.parent or "-",
            f"[{style}]{v.stage}[/]" if style else v.stage,
            _fmt(v.metrics.get("test_accuracy")),
            _fmt(v.metrics.get("test_f1_macro")),
            f"{v.params_count:,}",
            f"{v.size_bytes / 1e6:.2f}",
            v.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@app.command("promote")
def promote(
    model: str = typer.Argument(..., help=MODEL_HELP),
    stage: str = typer.Option("production", "--stage", help="candidate | production | archived"),
    reason: str = typer.Option("", "--reason", help="Why (kept in the history)."),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move a version to a stage; a new production version archives the previous one.

    ``--json``: the version's summary after the move.
    """
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        version = engine.promote(model, stage, reason=reason)
    if as_json:
        print_json(version.summary())
        return
    console.print(f"{version.ref} is now [bold]{version.stage}[/]")


@app.command("rollback")
def rollback(
    model: str = typer.Argument(..., help="Model name."),
    reason: str = typer.Option("", "--reason", help="Why (kept in the history)."),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put the previous production version back in production.

    ``--json``: the summary of the version that is production again.
    """
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        version = engine.rollback(model, reason=reason)
    if as_json:
        print_json(version.summary())
        return
    console.print(f"rolled back: {version.ref} is production again")


@app.command("history")
def history(
    model: str = typer.Argument(..., help="Model name."),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """The audit trail: who did what to which version, when and why.

    ``--json``: a list of ``{at, user, action, version, stage_from, stage_to, reason}``.
    """
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        events = engine.history(model)
    if as_json:
        print_json(events)
        return
    table = Table(title=f"History of {model}")
    for column in ("when (UTC)", "user", "action", "version", "stage", "reason"):
        table.add_column(column)
    for e in events:
        change = f"{e.stage_from or ''} -> {e.stage_to}" if e.stage_from else (e.stage_to or "")
        table.add_row(
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.user,
            e.action,
            "-" if e.version is None else str(e.version),
            change,
            e.reason,
        )
    console.print(table)
