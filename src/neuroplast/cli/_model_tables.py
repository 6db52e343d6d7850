"""The tables of ``neuroplast models``: the models, one version, the versions, the history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from pathlib import Path

    from neuroplast.registry import Event, ModelSummary
    from neuroplast.registry.records import VersionRecord

__all__ = ["events_table", "how_made", "info_tables", "models_table", "versions_table"]

_STAGE_STYLE = {"production": "bold green", "candidate": "yellow", "archived": "dim"}


def _pct(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else "-"


def how_made(version: VersionRecord) -> str:
    """``train``, ``import``, ``compress (dynamic int8)``, ``continual (replay)``..."""
    detail = version.metrics.get("technique") or version.metrics.get("strategy")
    return f"{version.source} ({detail})" if isinstance(detail, str) and detail else version.source


def models_table(
    summaries: list[ModelSummary], production: dict[str, str | None], where: Path
) -> Table:
    """One row per model: its newest version, its production version, test metrics."""
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
    return table


def info_tables(info: dict[str, Any]) -> list[Table]:
    """``Engine.get_model_info``: the fields, the training history, the evaluations."""
    from neuroplast.cli._tables import history_table as epochs_table
    from neuroplast.types import ModelMetrics

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
    tables = [table]
    if info["training_history"]:
        tables.append(epochs_table([ModelMetrics(**m) for m in info["training_history"]]))
    if info["evaluations"]:
        ev = Table(title="Evaluations")
        for column in ("split", "accuracy", "at"):
            ev.add_column(column)
        for e in info["evaluations"]:
            ev.add_row(e["split"], _pct(e["accuracy"]), e["at"])
        tables.append(ev)
    return tables


def versions_table(name: str, rows: list[VersionRecord]) -> Table:
    """Every version: how it was made, its parent, stage, test metrics and size."""
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
            how_made(v),
            v.parent or "-",
            f"[{style}]{v.stage}[/]" if style else v.stage,
            _pct(v.metrics.get("test_accuracy")),
            _pct(v.metrics.get("test_f1_macro")),
            f"{v.params_count:,}",
            f"{v.size_bytes / 1e6:.2f}",
            v.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    return table


def events_table(model: str, events: list[Event]) -> Table:
    """The audit trail, oldest first."""
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
    return table
