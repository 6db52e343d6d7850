"""``neuroplast serve``: the HTTP server (predict, explain, feedback, metrics, A/B admin).

Nothing heavy is imported here: the server of an ONNX model never imports torch."""

from __future__ import annotations

from pathlib import Path

import typer

from neuroplast.cli._common import HomeOption, setup_logging
from neuroplast.errors import ConfigError
from neuroplast.inference import backends_help


def serve(
    models: list[str] = typer.Argument(
        None,
        help="Models to serve, by name (default: every model with a production version).",
        show_default=False,
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on (anything but loopback is exposed)."
    ),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    backend: str = typer.Option(
        "onnx",
        "--backend",
        help=f"{backends_help()} (onnx: a graph is exported and stored on first serve).",
    ),
    max_batch: int = typer.Option(64, "--max-batch", help="Most inputs per batch."),
    max_wait_ms: float = typer.Option(
        2.0, "--max-wait-ms", help="Longest wait for a batch to fill, in milliseconds."
    ),
    max_queue: int = typer.Option(
        4096,
        "--max-queue",
        help="Most inputs waiting per version; beyond it requests get 503 with Retry-After.",
    ),
    workers: int = typer.Option(1, "--workers", help="Server processes sharing the port."),
    max_body_mb: float = typer.Option(16.0, "--max-body-mb", help="Largest request body (MiB)."),
    max_inputs: int = typer.Option(1024, "--max-inputs", help="Most inputs per request."),
    max_text_chars: int = typer.Option(
        10_000, "--max-text-chars", help="Longest text input, in characters."
    ),
    log_sample: float = typer.Option(
        1.0, "--log-sample", help="Fraction of answered requests written to the prediction log."
    ),
    loop: Path | None = typer.Option(
        None,
        "--loop",
        help="Run the closed loop (`neuroplast loop MODEL --policy LOOP`) of each served "
        "model on a schedule, in a subprocess, one step at a time per model.",
    ),
    loop_every: float | None = typer.Option(
        None, "--loop-every", help="Seconds between loop steps (with --loop; default 300)."
    ),
    home: HomeOption = None,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Serve models over HTTP: predict, explain, feedback, /metrics, /docs and a page at /."""
    setup_logging(verbose)
    from neuroplast.registry import Registry
    from neuroplast.serving.limits import Limits
    from neuroplast.serving.pool import ServeSettings
    from neuroplast.serving.server import options_for, run, served_models

    if not 0.0 <= log_sample <= 1.0:
        raise ConfigError(f"--log-sample is a fraction between 0 and 1, not {log_sample}")
    policy, every = _loop_policy(loop, loop_every)
    limits = Limits.from_options(
        max_body_mb=max_body_mb, max_inputs=max_inputs, max_text_chars=max_text_chars
    )
    settings = ServeSettings(
        backend=backend,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        max_queue=max_queue,
        log_sample=log_sample,
    )
    with Registry(home) as registry:
        names = served_models(registry, models or ())
        home_path, db_url = registry.home, registry.url
    # a version served for the first time exports its ONNX graph first (seconds, with torch)
    typer.echo(f"loading {', '.join(names)} ({backend}) ...")
    options = options_for(
        home=home_path,
        db_url=db_url,
        models=names,
        settings=settings,
        limits=limits,
        host=host,
        port=port,
        workers=workers,
        loop_policy=policy,
        loop_every=every,
    )
    code = run(options, echo=lambda line: typer.echo(line, err=line.startswith(("error", "warn"))))
    if code:
        raise typer.Exit(code)


def _loop_policy(loop: Path | None, every: float | None) -> tuple[Path | None, float]:
    """``--loop``'s policy, checked now (a bad file is one error line before serving), as an
    absolute path for the loop's subprocess, and the interval; outcomes are logged at INFO."""
    if loop is None:
        if every is not None:
            raise ConfigError("--loop-every needs --loop loop.yaml (the loop's policy)")
        return None, 300.0
    every = 300.0 if every is None else every
    if not every > 0:
        raise ConfigError(f"--loop-every is a number of seconds above 0, not {every}")
    from neuroplast.loop.policy import load_policy

    load_policy(loop)
    import logging

    logging.getLogger("neuroplast.serving.loop_schedule").setLevel(logging.INFO)
    return loop.resolve(), every
