"""``neuroplast models``: what the registry holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from neuroplast.cli._common import MODEL_HELP, HomeOption, JsonOption, console, print_json

if TYPE_CHECKING:
    from neuroplast.registry import Registry

app = typer.Typer(help="Models and versions in the registry.", no_args_is_help=True)


def _pct(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"


@app.command("list")
def list_models(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Every model with its newest version, its production version and test metrics.

    ``--json``: ``{"home": ..., "models": [{name, versions, latest, production}]}`` where
    ``latest`` is a version summary (ref, uid, stage, metrics, ...) and ``production`` is the
    production version's ref or null.
    """
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        summaries = engine.registry.list_models()
        where = engine.home
        production = {s.name: _production_ref(engine.registry, s.name) for s in summaries}
    if as_json:
        print_json(
            {
                "home": str(where),
                "models": [
                    {
                        "name": s.name,
                        "versions": s.versions,
                        "latest": None if s.latest is None else s.latest.summary(),
                        "production": production[s.name],
                    }
                    for s in summaries
                ],
            }
        )
        return
    if not summaries:
        console.print(f"no models in {where} yet: train one with `neuroplast train CONFIG`")
        return
    table = Table(title=f"Models in {where}")
    for column in (
        "name",
        "latest",
        "production",
        "versions",
        "architecture",
        "task",
        "parameters",
        "test acc",
        "test F1",
        "baseline acc",
        "created",
    ):
        table.add_column(
            column, justify="right" if column in ("versions", "parameters") else "left"
        )
    for s in summaries:
        v = s.latest
        if v is None:
            continue
        table.add_row(
            s.name,
            v.ref,
            production[s.name] or "-",
            str(s.versions),
            s.architecture,
            s.task,
            f"{v.params_count:,}",
            _pct(v.metrics.get("test_accuracy")),
            _pct(v.metrics.get("test_f1_macro")),
            _pct(v.metrics.get("baseline_test_accuracy")),
            v.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


def _production_ref(registry: Registry, name: str) -> str | None:
    from neuroplast.errors import ModelNotFoundError

    try:
        return registry.resolve(f"{name}@production").ref
    except ModelNotFoundError:
        return None


@app.command("show")
def show(
    model: str = typer.Argument(..., help=MODEL_HELP),
    as_json: JsonOption = False,
    home: HomeOption = None,
) -> None:
    """Everything the registry knows about one model version."""
    from neuroplast.cli._tables import history_table
    from neuroplast.engine import Engine
    from neuroplast.types import ModelMetrics

    with Engine(home) as engine:
        info = engine.get_model_info(model)
    if as_json:
        print_json(info)
        return
    table = Table(title=f"{info['model_id']}", show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for key in (
        "model_name",
        "version",
        "uid",
        "architecture",
        "task",
        "parameters_count",
        "size_bytes",
        "stage",
        "source",
        "created_at",
        "artifact_dir",
    ):
        value = info[key]
        table.add_row(
            key, f"{value:,}" if isinstance(value, int) and key != "version" else str(value)
        )
    table.add_row("versions", ", ".join(info["versions"]))
    for key, value in sorted(info["metrics"].items()):
        table.add_row(f"metric {key}", _pct(value) if isinstance(value, float) else str(value))
    arch = info["config"].get("model", {})
    table.add_row("model config", ", ".join(f"{k}={v}" for k, v in arch.items()))
    console.print(table)
    if info["training_history"]:
        console.print(history_table([ModelMetrics(**m) for m in info["training_history"]]))
    if info["evaluations"]:
        ev = Table(title="Evaluations")
        for column in ("split", "accuracy", "at"):
            ev.add_column(column)
        for e in info["evaluations"]:
            ev.add_row(e["split"], _pct(e["accuracy"]), e["at"])
        console.print(ev)
