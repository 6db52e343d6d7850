"""``neuroplast train``: train from a run config and register the model."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from neuroplast.cli._common import (
    HomeOption,
    JsonOption,
    console,
    print_json,
    print_task_result,
    progress_bar,
    setup_logging,
)
from neuroplast.cli._profile import print_profile
from neuroplast.cli._tables import history_table, print_results

if TYPE_CHECKING:
    from neuroplast.types import ModelMetrics
    from neuroplast.workflows import TrainOutcome


def train(
    config: Path = typer.Argument(..., help="Run config YAML (make one with `neuroplast init`)."),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a config value: --set train.epochs=3 (repeatable)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the latest interrupted run of this config."
    ),
    log_every: int = typer.Option(
        0,
        "--log-every",
        min=0,
        help="Without a progress bar (output piped or logged): print a progress line every "
        "N training batches; 0 = every quarter of an epoch.",
    ),
    devices: int = typer.Option(
        1, "--devices", help="Training processes on this machine (2+: DDP; gloo on CPUs)."
    ),
    strategy: str = typer.Option("auto", "--strategy", help="auto or ddp (see docs/scaling)."),
    num_nodes: int = typer.Option(1, "--num-nodes", help="Machines (each runs this command)."),
    slurm: bool = typer.Option(False, "--slurm", help="Take the processes from srun's job step."),
    profile: bool = typer.Option(
        False, "--profile", help="Profile a few steps: top operators, a Perfetto trace."
    ),
    home: HomeOption = None,
    as_json: JsonOption = False,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens."),
) -> None:
    """Train a model, evaluate it on the held-out test split, record it in the registry.

    ``--json``: the epoch lines go to stderr and stdout holds ``{version, home,
    resumed_from_epoch, train_seconds, best_epoch, history, test, baseline, plots,
    tracking}``: ``version`` is the registered version's summary, ``history`` one object per
    epoch (epoch, train_loss, val_loss, val_accuracy, learning_rate, samples_per_sec,
    seconds, extra), ``test`` and ``baseline`` the test-split metrics (baseline null when
    there is none); with ``--profile`` also ``profile`` (steps, trace, by_time, by_memory,
    peak_allocated_bytes; null when the run had too few steps).

    ``--devices N`` (``--strategy``, ``--num-nodes``, ``--slurm``; torchrun and srun are
    recognised) trains on several processes, rank 0 alone writing: see docs/scaling.md.
    """
    setup_logging(verbose)
    from neuroplast.config import load_run_config
    from neuroplast.training.loggers import check_loggers

    run_config = load_run_config(config, set_)
    check_loggers(run_config.train.loggers)  # imports mlflow, which sets up its own logging
    if not verbose:
        logging.getLogger("mlflow").setLevel(logging.WARNING)

    if run_config.task is not None and not run_config.task.is_classification:
        plain = not (resume or slurm or profile) and devices == num_nodes == 1
        _train_task(run_config, home, log_every, as_json, one_process=plain)
        return
    from neuroplast.distributed import LaunchOptions

    layout = LaunchOptions(devices, strategy, num_nodes, slurm)
    _train_classifier(run_config, home, layout, resume, profile, log_every, as_json)


def _train_classifier(
    run_config: Any,
    home: Path | None,
    layout: Any,
    resume: bool,
    profile: bool,
    log_every: int,
    as_json: bool,
) -> None:
    """Start the processes ``layout`` asks for; rank 0 trains through the Engine and prints,
    the others train their share silently."""
    from neuroplast.distributed import launch
    from neuroplast.engine import Engine

    launched = launch(run_config, layout)
    if not launched.is_global_zero:  # another process of a multi-process run: no output
        launched.train_replica(run_config)
        return
    description = f"training {run_config.name}"
    with (
        Engine(home) as engine,
        launched.session(profile_dir=_profile_dir(run_config, engine.home) if profile else None),
        progress_bar(description, lines_every=log_every, to_stderr=as_json) as progress,
    ):
        outcome = engine.train(
            run_config, resume=resume, progress=progress, on_epoch=_epoch_line(as_json)
        )
    profiled = None if launched.profiler is None else launched.profiler.summary
    if as_json:
        print_json({**_document(outcome, engine.home), **_profile_document(launched)})
    else:
        _print_outcome(outcome, engine.home)
        if profiled is not None:
            print_profile(console, profiled)


def _train_task(
    run_config: Any, home: Path | None, log_every: int, as_json: bool, *, one_process: bool
) -> None:
    """Anomaly detection, forecasting and generation train through their task handler
    (neuroplast.tasks); ``--json`` prints the task's document."""
    from neuroplast.engine import Engine
    from neuroplast.errors import ConfigError
    from neuroplast.tasks import task_handler

    if not one_process:
        raise ConfigError(
            "--resume, --devices, --num-nodes, --slurm and --profile are for classification; "
            f"task {run_config.task.value} trains in one process from the start"
        )
    description = f"training {run_config.name}"
    with (
        Engine(home) as engine,
        progress_bar(description, lines_every=log_every, to_stderr=as_json) as progress,
    ):
        done = task_handler(run_config.task).train(
            run_config, engine.registry, progress=progress, on_epoch=_epoch_line(as_json)
        )
    print_task_result(done, as_json)


def _profile_dir(run_config: Any, home: Path) -> Path:
    """``<train.log_dir or home/logs>/<name>``: the profile lands in its run's folder there."""
    log_dir = run_config.train.log_dir
    return (Path(log_dir).expanduser() if log_dir else home / "logs") / run_config.name


def _profile_document(launched: Any) -> dict[str, Any]:
    if launched.profiler is None:
        return {}
    summary = launched.profiler.summary
    return {"profile": None if summary is None else summary.to_dict()}


def _epoch_line(as_json: bool) -> Callable[[ModelMetrics], None]:
    """One line per epoch: on stdout, or on stderr when stdout carries the JSON document."""

    def on_epoch(m: ModelMetrics) -> None:
        val = (
            ""
            if m.val_accuracy is None
            else f"  val_loss {m.val_loss:.4f}  val_acc {m.val_accuracy:.4f}"
        )
        line = f"epoch {m.epoch}: train_loss {m.train_loss:.4f}{val}  ({m.seconds:.1f} s)"
        if as_json:
            typer.echo(line, err=True)
        else:
            console.print(line)

    return on_epoch


def _document(outcome: TrainOutcome, home: Path) -> dict[str, Any]:
    version, test, baseline = outcome.version, outcome.test, outcome.baseline
    return {
        "version": version.summary(),
        "home": home,
        "resumed_from_epoch": outcome.resumed_from_epoch,
        "train_seconds": outcome.train_seconds,
        "best_epoch": version.metrics.get("best_epoch"),
        "history": [m.to_dict() for m in outcome.history],
        "test": {**test.headline(), "samples": test.samples},
        "baseline": None
        if baseline is None
        else {**baseline.headline(), "samples": baseline.samples},
        "plots": outcome.plots,
        "tracking": outcome.tracking,
    }


def _print_outcome(outcome: TrainOutcome, home: Path) -> None:
    version = outcome.version
    if outcome.resumed_from_epoch:
        console.print(f"resumed after epoch {outcome.resumed_from_epoch}")
    console.print(history_table(outcome.history))
    title = f"{version.ref} ({version.architecture}, {version.params_count:,} parameters)"
    print_results(
        console, f"{title} on the test split", outcome.test, outcome.baseline, version.architecture
    )
    console.print(f"registered [bold]{version.ref}[/] (id {version.uid}) in {home}")
    console.print(
        f"train time {outcome.train_seconds:.1f} s, best epoch {version.metrics.get('best_epoch')}"
    )
    for name, path in outcome.plots.items():
        console.print(f"plot {name}: {path}")
    for name, where in outcome.tracking.items():
        console.print(f"{name} log: {where}", markup=False)
