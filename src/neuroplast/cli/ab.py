"""``neuroplast ab start | shadow | status | stop``: A/B tests and shadow versions.

They change the registry's routing of a model; a running ``neuroplast serve`` notices the
change at its next poll and routes accordingly. Each change is in ``models history``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from neuroplast.cli._common import HomeOption, JsonOption, console, print_json

if TYPE_CHECKING:
    from neuroplast.registry.traffic import ArmStatus, Routing

app = typer.Typer(help="A/B tests and shadow versions of served models.", no_args_is_help=True)

_AGO = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
ReasonOption = typer.Option("", "--reason", help="Why (kept in `neuroplast models history`).")


def _since(value: str | None) -> datetime | None:
    """``90s``, ``15m``, ``1h``, ``2d``, ``1w`` ago, or an ISO date-time (UTC if no zone)."""
    if value is None:
        return None
    match = _AGO.match(value.strip())
    if match:
        seconds = float(match.group("n")) * _UNITS[match.group("unit")]
        return datetime.now(UTC) - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither a time ago (30m, 1h, 2d, 1w) nor a date-time (2026-12-01T09:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _checked_since(value: str | None) -> str | None:
    """Refuse a bad ``--since`` while Click parses (so the error names the option)."""
    _since(value)
    return value


def _routing_json(routing: Routing) -> dict[str, Any]:
    return {
        "model": routing.model,
        "active": routing.active,
        "split": {str(v): w for v, w in routing.split.items()},
        "sticky_key": routing.sticky_key,
        "shadows": [f"{routing.model}:{v}" for v in routing.shadows],
        "revision": routing.revision,
        "started_at": routing.started_at,
    }


def _describe(routing: Routing) -> str:
    from neuroplast.registry.traffic import format_split

    if routing.active:
        sticky = f", sticky by {routing.sticky_key}" if routing.sticky_key else ""
        words = f"A/B test {format_split(routing.split)}{sticky}"
    else:
        words = "no A/B test (the production version answers)"
    if routing.shadows:
        words += "; shadows: " + ", ".join(f"{routing.model}:{v}" for v in routing.shadows)
    return f"{routing.model}: {words} (routing revision {routing.revision})"


@app.command("start")
def start(
    model: str = typer.Argument(..., help="Model name."),
    split: str = typer.Option(
        ..., "--split", help="VERSION:WEIGHT,... with weights > 0 that sum to 1, e.g. 3:0.9,4:0.1"
    ),
    sticky_key: str | None = typer.Option(
        None,
        "--sticky-key",
        help="What the sticky key is (e.g. user_id), recorded with the test. A request that "
        'carries a key ("key" in the body or the X-Neuroplast-Key header) always gets the '
        "same version; one without a key is routed by its request id.",
    ),
    reason: str = ReasonOption,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Split a model's requests between versions by weight (a running test's split is
    replaced).

    ``--json``: the routing ``{model, active, split, sticky_key, shadows, revision,
    started_at}``.
    """
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        routing = engine.ab_start(model, split, sticky_key=sticky_key, reason=reason)
    if as_json:
        print_json(_routing_json(routing))
        return
    console.print(_describe(routing), markup=False)


@app.command("shadow")
def shadow(
    version: str = typer.Argument(..., help="NAME:VERSION to mirror the traffic to."),
    remove: bool = typer.Option(False, "--remove", help="Stop mirroring to it."),
    reason: str = ReasonOption,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send a copy of every request to a version that never answers: its outputs are
    logged and compared with the answering version's (see `ab status`).

    ``--json``: the routing, as for `ab start`.
    """
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        routing = engine.ab_shadow(version, remove=remove, reason=reason)
    if as_json:
        print_json(_routing_json(routing))
        return
    console.print(_describe(routing), markup=False)


@app.command("status")
def status(
    model: str = typer.Argument(..., help="Model name."),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Only traffic since then: 30m, 1h, 2d, 1w or a date-time.",
        callback=_checked_since,
    ),
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per version and arm: requests, latency p50/p95/p99 (ms, per request), a shadow's
    agreement with the version that answered, feedback received and accuracy on it.

    ``--json``: ``{model, since, routing, arms: [{version, ref, arm, weight, requests,
    items, p50_ms, p95_ms, p99_ms, compared, agreement, feedback, accuracy}]}``.
    """
    from neuroplast.engine import Engine

    moment = _since(since)
    with Engine(home) as engine:
        arms = engine.ab_status(model, since=moment)
        routing = engine.registry.routing(model)
    if as_json:
        print_json(
            {
                "model": routing.model,
                "since": moment,
                "routing": _routing_json(routing),
                "arms": arms,
            }
        )
        return
    console.print(_describe(routing), markup=False)
    if not arms:
        window = f" since {moment:%Y-%m-%d %H:%M} UTC" if moment else ""
        console.print(f"no predictions logged for {routing.model}{window}", markup=False)
        return
    console.print(_table(routing.model, arms))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _share(value: float | None, n: int) -> str:
    return "-" if value is None else f"{value:.3f} ({n})"


def _table(model: str, arms: list[ArmStatus]) -> Table:
    table = Table(title=f"Traffic of {model}")
    for column in ("version", "arm", "weight", "requests", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column in ("version", "arm") else "right")
    table.add_column("agreement (n)", justify="right")
    table.add_column("accuracy (feedback)", justify="right")
    for a in arms:
        table.add_row(
            a.ref,
            a.arm,
            "-" if a.weight is None else f"{a.weight:.3g}",
            f"{a.requests:,}",
            _ms(a.p50_ms),
            _ms(a.p95_ms),
            _ms(a.p99_ms),
            _share(a.agreement, a.compared),
            _share(a.accuracy, a.feedback),
        )
    return table


@app.command("stop")
def stop(
    model: str = typer.Argument(..., help="Model name."),
    promote: int | None = typer.Option(
        None, "--promote", min=1, help="Make this version (an arm of the test) production first."
    ),
    reason: str = ReasonOption,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """End a model's A/B test: its production version answers every request again.
    Shadows keep running (remove them with `ab shadow NAME:N --remove`).

    ``--json``: the routing, as for `ab start`.
    """
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        routing = engine.ab_stop(model, promote=promote, reason=reason)
    if as_json:
        print_json(_routing_json(routing))
        return
    promoted = f"; {model}:{promote} is production now" if promote is not None else ""
    console.print(f"{model}: A/B test stopped{promoted}", markup=False)
    console.print(_describe(routing), markup=False)
