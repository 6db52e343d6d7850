"""``neuroplast ui``: the dashboard alone (what ``neuroplast serve`` also shows at ``/ui``),
without serving any model: nothing is loaded and torch is never imported."""

from __future__ import annotations

import typer

from neuroplast.cli._common import HomeOption, setup_logging


def ui(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on (anything but loopback is exposed)."
    ),
    port: int = typer.Option(8001, "--port", help="TCP port."),
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Serve the dashboard at /ui: models, versions, runs, evaluations, traffic, audit trail."""
    setup_logging(verbose)
    import uvicorn

    from neuroplast.registry import Registry
    from neuroplast.serving.server import check_port, is_loopback
    from neuroplast.ui import MOUNT, standalone_app

    if not is_loopback(host):
        typer.echo(
            f"warning: listening on {host}:{port} shows the registry (models, audit trail, "
            "logged inputs) to the network without a key; keep it behind a firewall or a proxy",
            err=True,
        )
    check_port(host, port)
    with Registry(home, read_only=True) as registry:  # the dashboard never writes
        app = standalone_app(registry)
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"dashboard of {registry.home} on http://{shown}:{port}{MOUNT}/  (Ctrl-C stops)")
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
