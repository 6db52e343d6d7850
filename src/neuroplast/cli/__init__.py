"""The ``neuroplast`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import sys

import typer

from neuroplast.cli import (
    bench,
    compress,
    continual,
    datasets,
    evaluate,
    explain,
    export,
    init,
    model_stages,
    models,
    predict,
    registry_cmds,
    train,
)
from neuroplast.cli._common import fail
from neuroplast.errors import NeuroplastError

__all__ = ["app", "main"]

_ = model_stages  # registers `models versions | promote | rollback | history`

app = typer.Typer(
    name="neuroplast",
    help="Train, evaluate, register and query deep learning models that keep learning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(datasets.app, name="datasets")
app.add_typer(models.app, name="models")
app.add_typer(registry_cmds.app, name="registry")
app.add_typer(continual.app, name="continual")
app.command("init")(init.init)
app.command("train")(train.train)
app.command("evaluate")(evaluate.evaluate)
app.command("predict")(predict.predict)
app.command("explain")(explain.explain)
app.command("export")(export.export)
app.command("compress")(compress.compress)
app.command("bench")(bench.bench)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        from neuroplast import __version__

        typer.echo(__version__)
        raise typer.Exit()


def main() -> None:
    """Console entry point: neuroplast errors become one line on stderr and an exit code."""
    try:
        app(standalone_mode=False)
    except NeuroplastError as e:
        raise SystemExit(fail(e).exit_code) from None
    except typer.Exit as e:
        raise SystemExit(e.exit_code) from None
    except typer.Abort:
        raise SystemExit(130) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None
    except Exception as e:  # click usage errors and the like
        import click

        if isinstance(e, click.ClickException):
            e.show()
            raise SystemExit(e.exit_code) from None
        raise
