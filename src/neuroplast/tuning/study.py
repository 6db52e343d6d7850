"""``neuroplast tune``: an Optuna study over a run config, trials on the one training loop.

The study records what it tunes (base config, space, metric) as user attributes, so
``tune status`` and workers on other machines need only its name and storage. With
``workers > 1`` the trials run in that many processes here, sharing the study through its
storage; a worker that dies (SIGKILL, out of memory) has its running trial marked failed at
once, a replacement takes its place, and the study goes on. At the end the best trial's
config is trained once more through ``train_from_config`` and registered as a version
(same seed and data: the same model), linked to the study in its metrics.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from neuroplast.config import RunConfig, parse_run_config
from neuroplast.errors import ConfigError, TrainingError
from neuroplast.registry import Registry, VersionRecord
from neuroplast.tuning._optuna import require_optuna
from neuroplast.tuning.space import SearchSpace, apply_params
from neuroplast.tuning.storage import StorageSpec, open_storage, resolve_storage
from neuroplast.tuning.trial import (
    FIRST_PRUNABLE_EPOCH,
    TrialRunner,
    direction_of,
    trial_run,
    trial_summary,
)

if TYPE_CHECKING:
    import optuna

__all__ = ["TuneOutcome", "TuneSettings", "run_tune"]

logger = logging.getLogger(__name__)
_POLL_SECONDS = 0.3


class TuneSettings(BaseModel):
    """How to search: budget, objective, sampler, pruner, storage, processes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    study: str = Field(min_length=1, max_length=200)
    trials: int = Field(default=20, ge=1)
    timeout: float | None = Field(default=None, gt=0, description="seconds per worker")
    metric: str = "val_accuracy"
    sampler: Literal["tpe", "random", "cmaes"] = "tpe"
    pruner: Literal["median", "hyperband", "none"] = "median"
    startup_trials: int = Field(default=5, ge=0, description="trials the pruner never stops")
    workers: int = Field(default=1, ge=1, le=64)
    storage: str | None = None
    seed: int = 0
    register_best: bool = True


@dataclass
class TuneOutcome:
    study: str
    storage: str
    trials: list[dict[str, Any]]
    best: dict[str, Any] | None
    version: VersionRecord | None
    killed_workers: list[int] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(t["state"] == state for t in self.trials)


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    optuna = require_optuna()
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        # CMA-ES samples the float/int parameters jointly; categorical ones fall back to
        # independent random sampling
        return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(settings: TuneSettings, epochs: int) -> optuna.pruners.BasePruner:
    optuna = require_optuna()
    if settings.pruner == "none":
        return optuna.pruners.NopPruner()
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=FIRST_PRUNABLE_EPOCH, max_resource=max(epochs, FIRST_PRUNABLE_EPOCH + 1)
        )
    # never on epoch 1's noisy value: from epoch 2 on
    return optuna.pruners.MedianPruner(
        n_startup_trials=settings.startup_trials, n_warmup_steps=FIRST_PRUNABLE_EPOCH
    )


def open_study(
    settings: TuneSettings, storage: Any, config: RunConfig, space: SearchSpace, seed: int
) -> optuna.Study:
    optuna = require_optuna()
    direction = direction_of(settings.metric)
    study = optuna.create_study(
        study_name=settings.study,
        storage=storage,
        sampler=make_sampler(settings.sampler, seed),
        pruner=make_pruner(settings, config.train.epochs),
        direction=direction,
        load_if_exists=True,
    )
    recorded = study.user_attrs.get("metric")
    if recorded is not None and recorded != settings.metric:
        raise ConfigError(
            f"study {settings.study!r} optimises {recorded}, not {settings.metric}; "
            "pass --metric " + recorded + " or choose another --study name"
        )
    if recorded is None:
        study.set_user_attr("metric", settings.metric)
        study.set_user_attr("config", config.model_dump(mode="json"))
        study.set_user_attr("space", space.model_dump(mode="json"))
    return study


def _on_stale(registry: Registry) -> Any:
    """Marks the registry run of a trial Optuna failed for lack of heartbeats."""

    def fail_run(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        run_id = trial_run(trial).get("id")
        if run_id is not None:
            _fail_run(registry, int(run_id), "its worker stopped sending heartbeats")

    return fail_run


def _fail_run(registry: Registry, run_id: int, why: str) -> None:
    if registry.get_run(run_id).status == "running":
        registry.update_run(run_id, status="failed", error=f"tuning trial failed: {why}")


def optimize(payload: dict[str, Any]) -> None:
    """One worker: open the registry and the study, run trials until the study holds
    ``target`` of them (or the timeout passes). Runs in a process of its own with
    ``workers > 1``, so it takes plain JSON-able values."""
    optuna = require_optuna()
    settings = TuneSettings.model_validate(payload["settings"])
    config = parse_run_config(payload["config"])
    space = SearchSpace.model_validate(payload["space"])
    with Registry(payload["home"], url=payload["registry_url"]) as registry:
        storage = open_storage(StorageSpec(**payload["storage"]), on_stale=_on_stale(registry))
        study = open_study(settings, storage, config, space, settings.seed + payload["index"])
        runner = TrialRunner(registry, config, space, settings.metric, settings.study)
        study.optimize(
            runner,
            n_trials=payload["target"],
            timeout=settings.timeout,
            callbacks=[optuna.study.MaxTrialsCallback(payload["target"], states=None)],
            catch=(TrainingError,),
            gc_after_trial=False,
        )


def worker_threads(workers: int, cpus: int | None = None) -> int | None:
    """Torch threads for each of ``workers`` processes on this machine: its CPUs shared out
    (at least one each), so that N workers do not each start a thread per CPU and fight
    over them. None when the user chose (``OMP_NUM_THREADS``) or there is one worker."""
    if workers <= 1 or os.environ.get("OMP_NUM_THREADS"):
        return None
    return max(1, (cpus or os.cpu_count() or 1) // workers)


def worker_main(payload: dict[str, Any]) -> None:
    """A worker process: :func:`optimize`, its errors as one line and an exit code."""
    import sys

    from neuroplast.errors import NeuroplastError

    threads = payload.get("threads")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    try:
        optimize(payload)
    except NeuroplastError as e:
        sys.stderr.write(f"error: tuning worker {payload['index']}: {e}\n")
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


def _fail_dead_trials(
    study: optuna.Study, storage: Any, registry: Registry, pid: int, code: int
) -> None:
    """Mark the trials a dead worker left running failed (and their registry runs)."""
    optuna = require_optuna()
    why = f"worker process {pid} died (" + (
        f"signal {-code})" if code < 0 else f"exit code {code})"
    )
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if trial_run(trial).get("worker_pid") != pid:
            continue
        storage.set_trial_system_attr(trial._trial_id, "fail_reason", why)
        storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        run_id = trial_run(trial).get("id")
        if run_id is not None:
            _fail_run(registry, int(run_id), why)
        logger.warning("trial %d failed: %s", trial.number, why)


def _context() -> Any:
    """Worker processes fork from a server that imported the training stack once (so the
    N workers do not import torch N times); where forkserver is missing, they spawn."""
    try:
        ctx = multiprocessing.get_context("forkserver")
    except ValueError:  # Windows
        return multiprocessing.get_context("spawn")
    ctx.set_forkserver_preload(["neuroplast.tuning.study"])
    return ctx


def _run_workers(
    payload: dict[str, Any], study: optuna.Study, storage: Any, registry: Registry, workers: int
) -> list[int]:
    """Start ``workers`` processes; the survivors of one that a signal kills go on with
    the study (a new one starts when none is left and trials remain).
    Returns the pids of the killed ones; raises when a worker fails with an error."""
    ctx = _context()
    started = time.monotonic()
    timeout = payload["settings"].get("timeout")
    procs = []
    for index in range(workers):
        proc = ctx.Process(target=worker_main, args=({**payload, "index": index},), daemon=False)
        proc.start()
        procs.append(proc)
    killed: list[int] = []
    next_index = workers
    while procs:
        for proc in [p for p in procs if not p.is_alive()]:
            procs.remove(proc)
            code = int(proc.exitcode or 0)
            if code == 0:
                continue
            _fail_dead_trials(study, storage, registry, int(proc.pid or 0), code)
            if code > 0:
                for other in procs:
                    other.terminate()
                raise TrainingError(
                    f"a tuning worker failed (exit code {code}); see its error above"
                )
            killed.append(int(proc.pid or 0))
            remaining = payload["target"] - len(study.get_trials(deepcopy=False))
            in_time = timeout is None or time.monotonic() - started < timeout
            # the others go on with the study; a replacement only when none is left
            if not procs and remaining > 0 and in_time and len(killed) <= 3 * workers:
                replacement = ctx.Process(
                    target=worker_main, args=({**payload, "index": next_index},), daemon=False
                )
                next_index += 1
                replacement.start()
                procs.append(replacement)
        time.sleep(_POLL_SECONDS)
    return killed


def _register_best(
    study: optuna.Study, registry: Registry, config: RunConfig
) -> VersionRecord | None:
    from neuroplast.workflows import train_from_config

    optuna = require_optuna()
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        return None
    best = study.best_trial
    outcome = train_from_config(apply_params(config, best.params), registry)
    version = outcome.version
    registry.update_version_metrics(
        version.id,
        {"tuning_study": study.study_name, "tuning_trial": best.number, "tuning_value": best.value},
    )
    study.set_user_attr("best_version", version.ref)
    return registry.resolve(version.ref)


def run_tune(
    config: RunConfig, space: SearchSpace, settings: TuneSettings, registry: Registry
) -> TuneOutcome:
    """Run the study (in this process, or in ``settings.workers`` processes) and register
    its best trial's model."""
    direction_of(settings.metric)
    space.check_against(config)
    spec = resolve_storage(registry.url, registry.home, settings.storage)
    storage = open_storage(spec, on_stale=_on_stale(registry))
    study = open_study(settings, storage, config, space, settings.seed)
    payload = {
        "settings": settings.model_dump(mode="json"),
        "config": config.model_dump(mode="json"),
        "space": space.model_dump(mode="json"),
        "home": str(registry.home),
        "registry_url": registry.url,
        "storage": {"url": spec.url, "schema": spec.schema},
        "target": len(study.get_trials(deepcopy=False)) + settings.trials,
        "index": 0,
        "threads": worker_threads(settings.workers),
    }
    killed: list[int] = []
    if settings.workers == 1:
        optimize(payload)
    else:
        killed = _run_workers(payload, study, storage, registry, settings.workers)
    version = _register_best(study, registry, config) if settings.register_best else None
    trials = [trial_summary(t) for t in study.get_trials(deepcopy=False)]
    best = None
    if any(t["state"] == "complete" for t in trials):
        best = trial_summary(study.best_trial)
    return TuneOutcome(settings.study, spec.describe(), trials, best, version, killed)
