"""``neuroplast continual``: run, compare and reproduce continual strategies on task streams,
and update registered models with new data without forgetting the old."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from neuroplast.cli._common import (
    MODEL_HELP,
    HomeOption,
    JsonOption,
    console,
    print_json,
    setup_logging,
)
from neuroplast.cli._continual_tables import (
    cells,
    matrix_table,
    metrics_table,
    reproduction_table,
    summary_json,
)

if TYPE_CHECKING:
    from neuroplast.continual.reproduce import ReproduceResult
    from neuroplast.continual.runner import RunResult
    from neuroplast.continual.update import UpdateOutcome
    from neuroplast.continual.workflow import ContinualOutcome

__all__ = ["app"]

app = typer.Typer(
    help="Continual learning: task streams, strategies, metrics, updates.", no_args_is_help=True
)


def _echo(json_mode: bool, message: str) -> None:
    """Progress lines: on stdout, or on stderr when stdout carries the JSON document."""
    if json_mode:
        typer.echo(message, err=True)
    else:
        console.print(message)


def _on_run(json_mode: bool, spaced: bool = True) -> Callable[[RunResult], None]:
    """The progress line after each strategy and seed."""
    gap = "  " if spaced else " "

    def line(r: RunResult) -> None:
        _echo(
            json_mode,
            f"{r.strategy} seed {r.seed}: ACC {100 * r.metrics.acc:.1f}%{gap}"
            f"({r.train_seconds:.1f} s)",
        )

    return line


@app.command("run")
def run(
    config: Path = typer.Argument(..., help="Stream config YAML (neuroplast init -t continual)."),
    set_: list[str] = typer.Option([], "--set", help="Override a value: --set train.epochs=3."),
    strategy: str | None = typer.Option(
        None, "--strategy", "-s", help="Strategies to compose, e.g. replay+lwf (overrides)."
    ),
    register: bool = typer.Option(True, "--register/--no-register", help="Register the model."),
    name: str | None = typer.Option(
        None,
        "--name",
        help="Register under this name (default: the config's name, with the strategies in "
        "it when --strategy changes them).",
    ),
    home: HomeOption = None,
    as_json: JsonOption = False,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Train task by task; print the accuracy matrix and the metrics; register the model.

    ``--json``: ``{stream, scenario, summaries: [{strategy, seeds, acc, bwt, fwt, forgetting,
    acc_std, train_seconds, memory_bytes, matrix}], version, plots}`` (metrics as
    fractions; ``version`` is the registered version's summary or null).
    """
    setup_logging(verbose)
    from neuroplast.continual.workflow import parse_strategy_sets
    from neuroplast.engine import Engine

    sets = parse_strategy_sets(strategy) if strategy else None
    if sets is not None and len(sets) != 1:
        raise typer.BadParameter("--strategy takes one set (use '+'); see `continual compare`")
    with Engine(home) as engine:
        outcome = engine.continual_run(
            config,
            overrides=set_,
            strategies=sets[0] if sets else None,
            register=register,
            name=name,
            on_run=_on_run(as_json),
        )
    if as_json:
        print_json(
            {
                "stream": outcome.stream.name,
                "scenario": outcome.stream.scenario,
                "summaries": [summary_json(s) for s in outcome.summaries],
                "version": None if outcome.version is None else outcome.version.summary(),
                "plots": outcome.plots,
            }
        )
        return
    _print_run(outcome)


def _print_run(outcome: ContinualOutcome) -> None:
    summary, stream = outcome.summaries[0], outcome.stream
    console.print(
        matrix_table(
            summary.mean_matrix(),
            f"accuracy % on {stream.name} ({stream.scenario}-IL), {summary.strategy}, "
            f"mean of {len(summary.runs)} seed(s)",
        )
    )
    console.print(metrics_table(outcome.summaries, "metrics (BWT/FWT in points)"))
    if outcome.version is not None:
        console.print(f"registered [bold]{outcome.version.ref}[/] (id {outcome.version.uid})")
        for name, path in outcome.plots.items():
            console.print(f"plot {name}: {path}")


@app.command("compare")
def compare(
    config: Path = typer.Argument(..., help="Stream config YAML."),
    strategies: str = typer.Option(
        "naive,ewc,online_ewc,si,lwf,replay,joint",
        "--strategies",
        help="Comma-separated; compose with '+', e.g. naive,replay,replay+lwf.",
    ),
    set_: list[str] = typer.Option([], "--set", help="Override a value: --set seeds=[0,1]."),
    as_json: JsonOption = False,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run several strategies on the same stream and seeds; print one table (nothing is
    registered: `continual run` registers one strategy's model).

    ``--json``: ``{stream, scenario, tasks, seeds, summaries: [...]}`` with the summaries of
    `continual run --json`.
    """
    setup_logging(verbose)
    from neuroplast.engine import Engine

    with Engine() as engine:  # nothing is registered: the registry is never opened
        comparison = engine.continual_compare(
            config, strategies, overrides=set_, on_run=_on_run(as_json, spaced=False)
        )
    stream, summaries = comparison.stream, comparison.summaries
    if as_json:
        print_json(
            {
                "stream": stream.name,
                "scenario": stream.scenario,
                "tasks": len(stream.tasks),
                "seeds": comparison.seeds,
                "summaries": [summary_json(s) for s in summaries],
            }
        )
        return
    console.print(
        metrics_table(
            summaries,
            f"{stream.name}, {stream.scenario}-IL, {len(stream.tasks)} tasks, "
            f"seeds {', '.join(map(str, comparison.seeds))}",
        )
    )


@app.command("reproduce")
def reproduce(
    protocol: str = typer.Argument("split-mnist", help="split-mnist"),
    seeds: int = typer.Option(3, "--seeds", min=1, help="Seeds 0..N-1 per cell."),
    epochs: int = typer.Option(5, "--epochs", min=1, help="Epochs per task."),
    as_json: JsonOption = False,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Reproduce van de Ven & Tolias (2019) Table 4 (split MNIST) beside the published one
    (nothing is registered).

    ``--json``: ``{protocol, seeds, epochs, steps_per_task, seconds, cells: [{strategy,
    scenario, mean, std, published, diagonal, unlearned}]}`` (accuracies in %;
    mean/std/diagonal null where a strategy does not apply; unlearned: the tasks whose
    R[t][t] stayed below chance + half; steps_per_task: the optimizer steps of a task).
    """
    setup_logging(verbose)
    from neuroplast.engine import Engine

    with Engine() as engine:  # nothing is registered: the registry is never opened
        result = engine.continual_reproduce(
            protocol,
            seeds=seeds,
            epochs=epochs,
            on_run=lambda scenario, r: _echo(
                as_json, f"{scenario}-IL {r.strategy} seed {r.seed}: {100 * r.metrics.acc:.1f}%"
            ),
        )
    if as_json:
        print_json(
            {
                "protocol": protocol,
                "seeds": result.seeds,
                "epochs": result.epochs,
                "steps_per_task": result.steps_per_task(),
                "seconds": result.seconds,
                "cells": cells(result),
            }
        )
        return
    _print_reproduction(result)


def _print_reproduction(result: ReproduceResult) -> None:
    from neuroplast.continual.reproduce import SCENARIOS

    table, far = reproduction_table(result)
    console.print(table)
    console.print(
        f"{result.epochs} epochs per task ({result.steps_per_task()} Adam steps), batch 128, "
        "Adam lr 0.001; mnist_5k 4,000 train / "
        f"1,000 test; strengths per scenario: "
        + "; ".join(f"{s}: {result.options(s)}" for s in SCENARIOS)
    )
    console.print(f"cells more than 5 points from the published value: {len(far)}")
    for line in far:
        console.print(f"  {line}")
    rigid = [
        f"  {strategy} {scenario}-IL: task(s) {missed}, R diagonal "
        + " / ".join(f"{d:.0f}" for d in result.diagonal(strategy, scenario) or [])
        for strategy in result.cells
        for scenario in SCENARIOS
        if (missed := result.unlearned(strategy, scenario))
    ]
    console.print(f"cells that did not learn every task (R[t][t] < chance + half): {len(rigid)}")
    for line in rigid:
        console.print(line)
    console.print(f"total time {result.seconds:.0f} s")


@app.command("update")
def update(
    model: str = typer.Argument(..., help=MODEL_HELP),
    data: Path = typer.Option(..., "--data", help="New labelled data: a table or image folder."),
    strategy: str = typer.Option(
        "replay", "--strategy", "-s", help="replay | ewc | lwf | naive, or several: replay+lwf."
    ),
    buffer: int = typer.Option(2000, "--buffer", min=1, help="Replay buffer size (rows)."),
    allow_new_classes: bool = typer.Option(
        False, "--allow-new-classes", help="Add output classes the model does not know yet."
    ),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Default: the parent's."),
    name: str | None = typer.Option(None, "--name", help="Register under another name."),
    text_column: str = typer.Option("text", "--text-column"),
    label_column: str = typer.Option("label", "--label-column"),
    home: HomeOption = None,
    as_json: JsonOption = False,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Teach a registered model new data without forgetting; register the new version.

    ``--json``: ``{parent, version, strategy, before, after, new_classes, seconds}`` where
    ``before``/``after`` hold ``old_accuracy`` and ``new_accuracy`` (fractions) and
    ``version`` is the new version's summary.
    """
    setup_logging(verbose)
    from neuroplast.continual.workflow import parse_strategy_sets
    from neuroplast.engine import Engine

    sets = parse_strategy_sets(strategy)
    if len(sets) != 1:
        raise typer.BadParameter("--strategy takes one set of strategies (compose with '+')")
    with Engine(home) as engine:
        outcome = engine.continual_update(
            model,
            data,
            strategies=sets[0],
            buffer_size=buffer,
            allow_new_classes=allow_new_classes,
            epochs=epochs,
            name=name,
            text_column=text_column,
            label_column=label_column,
        )
    if as_json:
        print_json(
            {
                "parent": outcome.parent.ref,
                "version": outcome.version.summary(),
                "strategy": outcome.strategy,
                "before": outcome.before,
                "after": outcome.after,
                "new_classes": outcome.new_classes,
                "seconds": outcome.seconds,
            }
        )
        return
    _print_update(outcome)


def _print_update(outcome: UpdateOutcome) -> None:
    table = Table(title=f"{outcome.parent.ref} -> {outcome.version.ref} ({outcome.strategy})")
    for column in ("test data", "before %", "after %", "change"):
        table.add_column(column, justify="left" if column == "test data" else "right")
    for key, label in (("old_accuracy", "old classes"), ("new_accuracy", "new data")):
        b, a = outcome.before[key], outcome.after[key]
        table.add_row(label, f"{100 * b:.1f}", f"{100 * a:.1f}", f"{100 * (a - b):+.1f}")
    console.print(table)
    if outcome.new_classes:
        console.print(f"new classes: {', '.join(outcome.new_classes)}")
    console.print(
        f"registered [bold]{outcome.version.ref}[/] (id {outcome.version.uid}, parent "
        f"{outcome.parent.ref}) in {outcome.seconds:.1f} s"
    )
