"""``neuroplast monitor MODEL``: drift tests on a served model's logged traffic."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from neuroplast.cli._common import MODEL_HELP, HomeOption, JsonOption, console, print_json, status
from neuroplast.cli.ab import _checked_since, _since

if TYPE_CHECKING:
    from neuroplast.monitoring import MonitorReport, WindowReport


def _number(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4g}"


def _window_table(report: MonitorReport, w: WindowReport) -> Table:
    span = (
        ""
        if w.start is None or w.end is None
        else f", {w.start:%Y-%m-%d %H:%M:%S}-{w.end:%H:%M:%S}"
    )
    title = f"window {w.index} ({w.size} inputs{span}): {'ALARM' if w.alarm else 'no alarm'}"
    table = Table(title=title)
    table.add_column("test")
    table.add_column("statistic", justify="right")
    table.add_column("p-value", justify="right")
    table.add_column("alarm")
    for r in w.results:
        table.add_row(r.name, _number(r.statistic), _number(r.p_value), "ALARM" if r.alarm else "-")
    return table


def monitor(
    model: str = typer.Argument(..., help=MODEL_HELP),
    window: int = typer.Option(500, "--window", min=2, help="Inputs per window."),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Only traffic since then: 30m, 1h, 2d, 1w or a date-time.",
        callback=_checked_since,
    ),
    reference: str = typer.Option(
        "heldout",
        "--reference",
        help="What the traffic is compared with: a sample of one of the version's splits, "
        "stored on the version on first use. heldout (default: val and test together, the "
        "largest sample of inputs the model did not learn from), val or test; train: the model's "
        "outputs there are more confident than on any new input, so its tests alarm on "
        "unchanged traffic too.",
    ),
    alpha: float = typer.Option(
        0.05, "--alpha", min=1e-6, max=0.5, help="False-alarm level per window (all tests)."
    ),
    html: Path | None = typer.Option(
        None, "--html", help="Also write a self-contained HTML report (plots inline) here."
    ),
    store: bool = typer.Option(
        True,
        "--store/--no-store",
        help="Keep the report in the registry, where the dashboard (/ui) shows the newest "
        "check of each model (default), or not.",
    ),
    embeddings: str | None = typer.Option(
        None,
        "--embeddings",
        help="Text models: also test the logged texts' sentence vectors from this pretrained "
        "encoder (minilm) against the reference's: a change of subject the model's own "
        "features miss. Needs the encoders extra; vectors are cached in the registry.",
    ),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Drift report of the traffic logged by `neuroplast serve`: per window of inputs, each
    test's statistic, p-value and alarm (pooled features, input statistics, predicted-class
    mix, confidence, and accuracy on feedback).

    ``--json``: ``{model, version, reference, reference_size, window, alpha, alarms,
    windows: [{index, start, end, size, alarm, tests: [{test, statistic, p_value, alarm,
    ...}]}], notes, html, check_id}`` (``check_id``: the stored check, null with
    ``--no-store``).
    """
    from neuroplast.engine import Engine

    moment = _since(since)
    with status(as_json, f"testing the traffic of {model}..."), Engine(home) as engine:
        report = engine.monitor(
            model, window=window, since=moment, reference=reference, alpha=alpha, store=store,
            embeddings=embeddings,
        )  # fmt: skip
    written = None
    if html is not None:
        from neuroplast.monitoring import write_html

        written = write_html(report, html)
    if as_json:
        where = None if written is None else str(written)
        print_json({**report.to_dict(), "html": where, "check_id": report.check_id})
        return
    console.print(
        f"{report.version}: {len(report.windows)} windows of {report.window} inputs against "
        f"the {report.reference} reference ({report.reference_size} inputs); "
        f"{report.alarms} raised the alarm"
        + ("" if report.check_id is None else f" (stored as drift check {report.check_id})"),
        markup=False,
    )
    for note in report.notes:
        console.print(f"note: {note}", markup=False)
    for w in report.windows:
        console.print(_window_table(report, w))
    if written is not None:
        console.print(f"report: {written}", markup=False)
