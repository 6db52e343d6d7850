"""``neuroplast loop MODEL --policy loop.yaml``: one step of the closed loop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from neuroplast.cli._common import HomeOption, JsonOption, console, print_json, status
from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.loop import LoopReport
    from neuroplast.registry import Event


def _overrides(pairs: list[str]) -> dict[str, Any]:
    """``section.key=value`` pairs, each value read as YAML (``0.3``, ``true``, ``naive``)."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--set {pair!r}: write SECTION.KEY=VALUE, e.g. --set update.strategy=naive"
            )
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {pair!r}: the value is not valid YAML ({e})") from e
    return out


def _short(details: dict[str, Any], limit: int = 400) -> str:
    text = json.dumps(details, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "... (--json shows all)"


def _report_table(report: LoopReport) -> Table:
    title = f"loop {report.model}: {report.outcome}" + (
        " (dry run: nothing changed)" if report.dry_run else ""
    )
    table = Table(title=title)
    for column in ("step", "outcome", "reason"):
        table.add_column(column)
    for d in report.decisions:
        table.add_row(d.step, d.outcome, d.reason)
    return table


def loop(
    model: str = typer.Argument(..., help="Model name (the loop finds its serving version)."),
    policy: Path = typer.Option(
        ..., "--policy", "-p", help="The loop policy (`neuroplast init --template loop`)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Say what this step would do; change nothing."
    ),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a policy key: --set update.strategy=naive (repeatable)."
    ),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run ONE step of the closed loop: decide the running A/B test (promote or roll back),
    or check drift and feedback, train a candidate, gate it and start its rollout. Every
    decision goes to the audit trail (`neuroplast models history MODEL`). A step with
    nothing to do ends "waiting" (exit 0); a step already running ends "busy" (exit 0).

    ``--json``: ``{model, dry_run, outcome, candidate, promoted, decisions: [{step, outcome,
    reason, details}]}``.
    """
    from neuroplast.engine import Engine
    from neuroplast.loop import load_policy

    checked = load_policy(policy, _overrides(overrides))
    with status(as_json, f"closed loop on {model}..."), Engine(home) as engine:
        report = engine.loop(model, checked, dry_run=dry_run)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(_report_table(report))
    if report.candidate:
        console.print(f"candidate: {report.candidate}", markup=False)
    if report.promoted:
        console.print(f"promoted: {report.promoted}", markup=False)


def print_event_details(events: list[Event]) -> None:
    """Under ``models history``'s table: the numbers of the events that carry some."""
    for e in events:
        if e.details:
            version = "" if e.version is None else f" v{e.version}"
            console.print(
                f"{e.at:%Y-%m-%d %H:%M:%S} {e.action}{version}: {_short(e.details)}",
                markup=False,
            )
