"""``neuroplast tune``: an Optuna study over a run config; ``tune status NAME`` reports it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from neuroplast.cli._common import HomeOption, JsonOption, console, print_json, setup_logging
from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.tuning import StudyStatus, TuneOutcome

_DURATION = {"s": 1, "m": 60, "h": 3600}


def parse_duration(text: str | None) -> float | None:
    """``90``, ``90s``, ``30m``, ``2h`` -> seconds."""
    if text is None:
        return None
    value, unit = (text[:-1], text[-1]) if text[-1:] in _DURATION else (text, "s")
    try:
        seconds = float(value) * _DURATION[unit]
    except ValueError:
        raise ConfigError(
            f"--timeout {text!r}: expected a duration such as 90s, 30m or 2h"
        ) from None
    if seconds <= 0:
        raise ConfigError(f"--timeout {text!r} must be positive")
    return seconds


def tune(
    target: str = typer.Argument(
        ..., metavar="CONFIG | status", help="Run config YAML, or `status` followed by a study."
    ),
    study_name: str | None = typer.Argument(
        None, metavar="[NAME]", help="With `status`: the study to report."
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a config value: --set data.limit=4000 (repeatable)."
    ),
    trials: int = typer.Option(20, "--trials", min=1, help="Trials to run (all workers)."),
    timeout: str | None = typer.Option(None, "--timeout", help="Stop after 90s / 30m / 2h."),
    metric: str = typer.Option(
        "val_accuracy", "--metric", help="val_accuracy | val_loss | train_loss."
    ),
    space: Path | None = typer.Option(None, "--space", help="Search space YAML (docs/tuning.md)."),
    storage: str | None = typer.Option(
        None, "--storage", help="Study database URL (default: beside the registry's database)."
    ),
    study: str | None = typer.Option(None, "--study", help="Study name (default: CONFIG's name)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes running trials here."),
    sampler: str = typer.Option("tpe", "--sampler", help="tpe | random | cmaes."),
    pruner: str = typer.Option("median", "--pruner", help="median | hyperband | none."),
    startup: int = typer.Option(
        5, "--pruner-startup", min=0, help="Trials that run in full before the pruner acts."
    ),
    seed: int = typer.Option(0, "--seed", help="Sampler seed (worker i uses seed + i)."),
    register: bool = typer.Option(
        True, "--register/--no-register", help="Register the best trial's model as a version."
    ),
    plots: Path | None = typer.Option(
        None, "--plots", help="With `status`: folder for the PNG plots (default: <home>/tuning)."
    ),
    home: HomeOption = None,
    as_json: JsonOption = False,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens."),
) -> None:
    """Search hyperparameters with Optuna; each trial is a registry run, the best becomes
    a version. `neuroplast tune status NAME`: trials, best, importances, PNG plots.

    ``--json``: one document on stdout (its shapes are in docs/cli.md).
    """
    setup_logging(verbose)
    from neuroplast.engine import Engine

    with Engine(home) as engine:
        if target == "status":
            _status(engine.registry, study_name, storage, plots, as_json)
            return
        if study_name is not None:
            raise ConfigError(f"tune: unexpected argument {study_name!r}; use --study NAME")
        options = dict(trials=trials, timeout=parse_duration(timeout), metric=metric)
        options |= dict(storage=storage, workers=workers, sampler=sampler, pruner=pruner)
        options |= dict(seed=seed, startup_trials=startup, register_best=register)
        outcome = _run(engine.registry, Path(target), set_, space, study, options, as_json)
    if as_json:
        print_json(_outcome_document(outcome))
    else:
        _print_outcome(outcome)


def _run(
    registry: Any,
    config_path: Path,
    overrides: list[str],
    space_path: Path | None,
    study: str | None,
    options: dict[str, Any],
    as_json: bool,
) -> TuneOutcome:
    from pydantic import ValidationError

    from neuroplast.config import format_validation_error, load_run_config
    from neuroplast.tuning import TuneSettings, default_space, load_space, run_tune

    config = load_run_config(config_path, overrides)
    search = load_space(space_path) if space_path else default_space(config.architecture)
    try:
        settings = TuneSettings(study=study or config.name, **options)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, "tune")) from e
    if not as_json:
        console.print(
            f"study {settings.study}: {settings.trials} trials of {config.name} "
            f"({settings.sampler}, {settings.pruner} pruner, {settings.workers} worker(s)), "
            f"optimising {settings.metric} over {', '.join(search.params)}"
        )
    logging.getLogger("lightning_fabric").setLevel(logging.WARNING)
    return run_tune(config, search, settings, registry)


def _status(
    registry: Any, name: str | None, storage: str | None, plots: Path | None, as_json: bool
) -> None:
    from neuroplast.tuning import resolve_storage, study_status

    if name is None:
        raise ConfigError("tune status: name the study: `neuroplast tune status NAME`")

    spec = resolve_storage(registry.url, registry.home, storage)
    result = study_status(spec, name, plot_dir=plots or registry.home / "tuning")
    if as_json:
        print_json(result.to_dict())
    else:
        _print_status(result)


def _trials_table(trials: list[dict[str, Any]], metric: str) -> Table:
    table = Table(title="trials")
    for column in ("#", "state", metric, "epochs", "seconds", "params"):
        table.add_column(column, justify="right" if column != "params" else "left")
    for t in trials:
        value = "-" if t["value"] is None else f"{t['value']:.4f}"
        params = ", ".join(
            f"{k.split('.')[-1]}={v:.3g}" if isinstance(v, float) else f"{k.split('.')[-1]}={v}"
            for k, v in t["params"].items()
        )
        seconds = "-" if t["seconds"] is None else f"{t['seconds']:.1f}"
        table.add_row(str(t["number"]), t["state"], value, str(t["epochs"]), seconds, params)
    return table


def _counts(trials: list[dict[str, Any]]) -> dict[str, int]:
    states = ("complete", "pruned", "fail", "running")
    return {s: sum(t["state"] == s for t in trials) for s in states}


def _outcome_document(outcome: TuneOutcome) -> dict[str, Any]:
    return {
        "study": outcome.study,
        "storage": outcome.storage,
        "counts": _counts(outcome.trials),
        "best": outcome.best,
        "version": None if outcome.version is None else outcome.version.summary(),
        "trials": outcome.trials,
        "killed_workers": outcome.killed_workers,
    }


def _print_outcome(outcome: TuneOutcome) -> None:
    console.print(_trials_table(outcome.trials, "value"))
    counts = _counts(outcome.trials)
    console.print(
        f"{len(outcome.trials)} trials: {counts['complete']} complete, {counts['pruned']} "
        f"pruned, {counts['fail']} failed (study in {outcome.storage})"
    )
    for pid in outcome.killed_workers:
        console.print(f"worker {pid} was killed; its trial was marked failed")
    if outcome.best is not None:
        console.print(f"best: trial {outcome.best['number']} value {outcome.best['value']:.4f}")
    if outcome.version is not None:
        console.print(f"registered [bold]{outcome.version.ref}[/] (the best trial's config)")
    console.print(f"see `neuroplast tune status {outcome.study}`")


def _print_status(result: StudyStatus) -> None:
    console.print(_trials_table(result.trials, result.metric))
    counts = result.to_dict()["counts"]
    console.print(
        f"study {result.study} ({result.direction} {result.metric}) in {result.storage}: "
        f"{counts['complete']} complete, {counts['pruned']} pruned, {counts['fail']} failed, "
        f"{counts['running']} running"
    )
    if result.best is not None:
        console.print(f"best so far: trial {result.best['number']} {result.best['value']:.4f}")
        for key, value in result.best["params"].items():
            console.print(f"  {key}: {value}")
    if result.best_version:
        console.print(f"registered as {result.best_version}")
    if result.importances:
        console.print("parameter importances (fANOVA):")
        for key, value in result.importances.items():
            console.print(f"  {key}: {value:.3f}")
    for name, path in result.plots.items():
        console.print(f"plot {name}: {path}")
