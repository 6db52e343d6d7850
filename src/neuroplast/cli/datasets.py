"""``neuroplast datasets``: the built-in real data sets."""

from __future__ import annotations

import typer
from rich.table import Table

from neuroplast.cli._common import JsonOption, console, print_json

app = typer.Typer(
    help="Built-in real data sets (shipped inside installable packages).", no_args_is_help=True
)


@app.command("list")
def list_datasets(as_json: JsonOption = False) -> None:
    """Name, task, size, classes, source package and whether it is installed.

    ``--json``: a list of ``{name, task, size, classes, source, installed, install_hint}``.
    """
    from neuroplast.data import list_builtin

    if as_json:
        print_json(
            [
                {
                    "name": info.name,
                    "task": info.task,
                    "size": info.size,
                    "classes": info.num_classes,
                    "source": info.source,
                    "installed": info.installed(),
                    "install_hint": info.install_hint,
                }
                for info in list_builtin()
            ]
        )
        return

    table = Table(title="Built-in data sets")
    for column in ("name", "task", "size", "classes", "source", "installed"):
        table.add_column(column, justify="right" if column in ("size", "classes") else "left")
    missing = []
    for info in list_builtin():
        ok = info.installed()
        if not ok:
            missing.append(info)
        table.add_row(
            info.name,
            info.task,
            f"{info.size:,}",
            str(info.num_classes),
            info.source,
            "[green]yes[/]" if ok else "[red]no[/]",
        )
    console.print(table)
    for info in missing:
        console.print(f"to install {info.name}: [bold]{info.install_hint}[/]")
