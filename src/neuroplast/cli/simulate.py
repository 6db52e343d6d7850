"""``neuroplast simulate MODEL --stream drift.yaml``: replay a labelled stream with a known
shift through a live server and print the live accuracy per block of inputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from neuroplast.cli._common import HomeOption, JsonOption, console, print_json, setup_logging

if TYPE_CHECKING:
    from neuroplast.loop.simulate import Block, SimulationReport
    from neuroplast.registry import Registry


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _block_line(block: Block) -> str:
    versions = ", ".join(f"{v} x{n}" for v, n in sorted(block.versions.items()))
    return (
        f"{block.start:>6}-{block.end:<6} {block.phase:<16} acc {_pct(block.accuracy):>6}  "
        f"unshifted {_pct(block.known_accuracy):>6}  shifted {_pct(block.shifted_accuracy):>6}"
        f"  {block.seconds:7.1f} s  {versions}"
    )


def _summary(report: SimulationReport) -> None:
    table = Table(title=f"{report.model} at {report.url}: {report.accuracy:.1%} accuracy")
    for column in ("phase", "starts at", "inputs"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for phase in report.phases:
        table.add_row(phase["name"], str(phase["start"]), str(phase["inputs"]))
    console.print(table)
    for version, first in sorted(report.first_answer.items(), key=lambda kv: kv[1]):
        count = report.versions.get(version, 0)
        console.print(f"{version}: first answered input {first}, {count} inputs", markup=False)
    console.print(
        f"feedback: {report.feedback} labels sent, {report.refused} refused", markup=False
    )
    for reason in report.refusals:
        console.print(f"  refused: {reason}", markup=False)
    for run in report.loop_runs:
        outcome = run.error or _loop_outcome(run.report)
        console.print(f"loop after {run.at} inputs ({run.duration:.1f} s): {outcome}", markup=False)


def _loop_outcome(report: dict[str, object] | None) -> str:
    decisions = (report or {}).get("decisions") or []
    if not isinstance(decisions, list) or not decisions:
        return "no decision"
    last = decisions[-1]
    if isinstance(last, dict):
        return f"{last.get('outcome')}: {last.get('reason')}"
    return str(last)


@contextmanager
def _registry(home: Path | None, needed: bool) -> Iterator[Registry | None]:
    """The registry the server reads, opened only when the loop runs from here."""
    if not needed:
        yield None
        return
    from neuroplast.registry import Registry

    with Registry(home) as registry:
        yield registry


def _write(path: Path, report: SimulationReport) -> None:
    """``--out``: the whole report as JSON, written atomically."""
    from neuroplast.registry.artifacts import atomic_write_bytes

    atomic_write_bytes(path, json.dumps(report.to_dict(), indent=2).encode("utf-8"))


def simulate(
    model: str = typer.Argument(..., help="The served model's name."),
    stream: Path = typer.Option(
        ..., "--stream", help="The stream file (YAML: dataset, split, phases; see docs)."
    ),
    url: str = typer.Option(
        "http://127.0.0.1:8000", "--url", help="The live `neuroplast serve` to replay through."
    ),
    out: Path | None = typer.Option(None, "--out", help="Also write the whole report as JSON."),
    loop_policy: Path | None = typer.Option(
        None,
        "--loop-policy",
        help="Run one step of the closed loop (on --home's registry, the one the server "
        "reads) every --loop-every inputs with this policy (loop.yaml).",
    ),
    loop_every: int | None = typer.Option(
        None, "--loop-every", min=1, help="Inputs between loop steps (default: the stream's)."
    ),
    home: HomeOption = None,
    as_json: JsonOption = False,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Replay a labelled stream with a known shift through a live server: predictions for
    every input, feedback for a fraction, the live accuracy per block (all inputs, the
    unshifted ones, the shifted ones) and the versions that answered.

    ``--json``: ``{model, url, stream, phases: [{name, start, inputs, seconds}], blocks:
    [{start, end, seconds, phase, accuracy, known_accuracy, shifted_accuracy, shifted,
    versions, feedback, refused}], loop_runs: [{at, seconds, duration, report, error}],
    versions, first_answer, feedback, refused, refusals, seconds, accuracy}``.
    """
    setup_logging(verbose)
    from neuroplast.loop.simulate import simulate as run

    def show(block: Block) -> None:
        if not as_json:
            console.print(_block_line(block), markup=False)

    with _registry(home, loop_policy is not None) as registry:
        report = run(
            model,
            stream,
            url=url,
            registry=registry,
            policy=loop_policy,
            loop_every=loop_every,
            on_block=show,
        )
    if out is not None:
        _write(out, report)
    if as_json:
        print_json(report.to_dict())
        return
    _summary(report)
    if out is not None:
        console.print(f"report: {out}", markup=False)
