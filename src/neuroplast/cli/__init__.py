"""The ``neuroplast`` command line: one Typer app, one module per command group.

:func:`main` is the console script. It turns every way a command can end into one line on
stderr and an exit code that reaches the shell: 0 on success, 2 for a usage mistake (an
unknown option, a missing argument; with the usage line and the ``--help`` hint), the
error's own code for a :class:`~neuroplast.errors.NeuroplastError`, 130 when interrupted.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import typer

from neuroplast.cli import (
    ab,
    bench,
    compare,
    compress,
    continual,
    datasets,
    embed,
    evaluate,
    explain,
    export,
    generate,
    index,
    init,
    loop,
    models,
    monitor,
    neuro,
    predict,
    registry_cmds,
    serve,
    simulate,
    train,
    tune,
    ui,
)
from neuroplast.cli._common import fail
from neuroplast.errors import NeuroplastError

__all__ = ["app", "main"]

app = typer.Typer(
    name="neuroplast",
    help="Train, evaluate, register and query deep learning models that keep learning.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
app.add_typer(datasets.app, name="datasets")
app.add_typer(models.app, name="models")
app.add_typer(registry_cmds.app, name="registry")
app.add_typer(continual.app, name="continual")
app.add_typer(ab.app, name="ab")
app.add_typer(neuro.app, name="neuro")
app.command("init")(init.init)
app.command("train")(train.train)
app.command("evaluate")(evaluate.evaluate)
app.command("predict")(predict.predict)
app.command("explain")(explain.explain)
app.command("export-onnx")(export.export_onnx)
app.command("export", hidden=True)(export.export_onnx)  # its former name
app.command("compress")(compress.compress)
app.command("bench")(bench.bench)
app.command("serve")(serve.serve)
app.command("monitor")(monitor.monitor)
app.command("loop")(loop.loop)
app.command("simulate")(simulate.simulate)
app.command("ui")(ui.ui)
app.add_typer(index.app, name="index")
app.command("embed")(embed.embed)
app.command("search")(index.search)
app.command("generate")(generate.generate)
app.command("tune")(tune.tune)
app.command("compare")(compare.compare)


def _print_version(value: bool) -> None:
    if value:
        from neuroplast import __version__

        typer.echo(f"neuroplast {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_print_version,
        is_eager=True,
    ),
) -> None:
    """Train, evaluate, register and query deep learning models that keep learning."""


def _is_click_error(error: BaseException, name: str) -> bool:
    """Whether ``error`` is Click's ``name`` exception: Typer up to 0.28 uses the ``click``
    package, later ones a private copy of it, so the class is matched by name."""
    return any(cls.__name__ == name for cls in type(error).__mro__)


def _context_from_argv(argv: list[str]) -> Any:
    """The Click context of the (sub)command ``argv`` names, for errors raised without one
    (Click's "Option '--split' requires an argument" has none)."""
    command = typer.main.get_command(app)
    ctx = command.context_class(command, info_name="neuroplast")
    for arg in argv:
        sub = getattr(command, "commands", {}).get(arg)
        if sub is None:
            break
        command = sub
        ctx = command.context_class(command, info_name=arg, parent=ctx)
    return ctx


def usage_error_line(error: Any, argv: list[str] | None = None) -> str:
    """``error: <what was wrong> (usage: <usage line>; see `<command> --help`)``, one line."""
    message = " ".join(str(error.format_message()).split())
    ctx = getattr(error, "ctx", None) or _context_from_argv(sys.argv[1:] if argv is None else argv)
    usage = " ".join(ctx.get_usage().split())
    usage = usage.removeprefix("Usage:").strip()
    usage = re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), usage)  # Typer 0.29: {config}
    return f"error: {message} (usage: {usage}; see `{ctx.command_path} --help`)"


def main() -> None:
    """Console entry point: every outcome becomes an exit code, every error one line."""
    try:
        code = app(standalone_mode=False)
    except NeuroplastError as e:
        code = fail(e).exit_code
    except typer.Exit as e:
        code = e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        code = 130
    except Exception as e:  # Click's usage errors and aborts, matched by class name
        if _is_click_error(e, "NoArgsIsHelpError"):
            typer.echo(e.format_message(), err=True)  # type: ignore[attr-defined]
            code = 2
        elif _is_click_error(e, "ClickException"):
            typer.echo(usage_error_line(e), err=True)
            code = 2 if _is_click_error(e, "UsageError") else int(getattr(e, "exit_code", 1))
        elif _is_click_error(e, "Abort"):
            typer.echo("error: aborted, nothing was changed", err=True)
            code = 1
        else:
            raise
    raise SystemExit(code if isinstance(code, int) else 0)
