"""Start the processes of a run, and stop them.

Every process runs the same ``neuroplast train`` command. Without a launcher of its own
(``--devices 2`` from a shell), Fabric's launcher starts the other processes of this
machine by running the command again with ``LOCAL_RANK`` set. Under torchrun or a SLURM job
step the processes already exist: their number comes from the environment
(:func:`launch_options`). Rank 0 trains through the usual workflow and alone writes to the
registry; the others train their share in step with it (:meth:`Launched.train_replica`)
and write nothing.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from lightning_fabric import Fabric

    from neuroplast.config import RunConfig
    from neuroplast.training.profiler import ProfilerCallback

__all__ = ["LaunchOptions", "Launched", "launch", "launch_options"]

logger = logging.getLogger(__name__)
#: How long rank 0 waits for the other processes of this machine to exit after training.
CHILD_EXIT_SECONDS = 120.0


@dataclass(frozen=True)
class LaunchOptions:
    """Processes per machine, machines, strategy; ``slurm``: take them from SLURM."""

    devices: int = 1
    strategy: str = "auto"
    num_nodes: int = 1
    slurm: bool = False

    @property
    def world_size(self) -> int:
        return self.devices * self.num_nodes


def launch_options(options: LaunchOptions, env: Mapping[str, str] | None = None) -> LaunchOptions:
    """``options`` completed from the launcher's environment: torchrun's
    ``LOCAL_WORLD_SIZE`` / ``WORLD_SIZE``, or SLURM's tasks per node and nodes (with
    ``--slurm``, or under ``srun`` with more than one task)."""
    env = os.environ if env is None else env
    if "TORCHELASTIC_RUN_ID" in env:
        return _from_sizes(
            options, "torchrun", int(env["LOCAL_WORLD_SIZE"]), int(env["WORLD_SIZE"])
        )
    in_step = "SLURM_PROCID" in env and "SLURM_NTASKS" in env
    if options.slurm and not in_step:
        raise ConfigError(
            "--slurm: this process is not a task of a SLURM job step (no SLURM_PROCID); "
            "start it with srun inside an sbatch script (see docs/scaling.md)"
        )
    if in_step and (options.slurm or int(env["SLURM_NTASKS"]) > 1):
        per_node = _slurm_count(env.get("SLURM_NTASKS_PER_NODE") or env["SLURM_NTASKS"])
        return _from_sizes(options, "SLURM", per_node, int(env["SLURM_NTASKS"]))
    return options


def _slurm_count(value: str) -> int:
    """``4``, or ``4(x2)`` (SLURM's notation for 4 on each of 2 nodes)."""
    match = re.match(r"(\d+)", value)
    if match is None:
        raise ConfigError(f"SLURM_NTASKS_PER_NODE={value!r} is not a number of tasks")
    return int(match.group(1))


def _from_sizes(options: LaunchOptions, source: str, per_node: int, world: int) -> LaunchOptions:
    asked = options.devices != 1 or options.num_nodes != 1
    layout = replace(options, devices=per_node, num_nodes=max(1, world // max(1, per_node)))
    if asked and (options.devices, options.num_nodes) != (layout.devices, layout.num_nodes):
        raise ConfigError(
            f"--devices {options.devices} --num-nodes {options.num_nodes} but {source} started "
            f"{layout.devices} process(es) on each of {layout.num_nodes} machine(s); leave "
            "--devices and --num-nodes out (the launcher decides them)"
        )
    return layout


@dataclass
class Launched:
    """The processes of a run, as seen by one of them (``fabric`` None: one process)."""

    fabric: Fabric | None = None
    profiler: ProfilerCallback | None = field(default=None)

    @property
    def is_global_zero(self) -> bool:
        return self.fabric is None or bool(self.fabric.is_global_zero)

    @property
    def world_size(self) -> int:
        return 1 if self.fabric is None else int(self.fabric.world_size)

    @contextmanager
    def session(self, *, profile_dir: Path | None = None) -> Iterator[Launched]:
        """Rank 0's training block: its Trainer takes the launched Fabric (and a profiler
        writing under ``profile_dir``); on the way out the other processes of this machine
        are waited for, or stopped when the block failed."""
        from neuroplast.training.session import training_session

        if profile_dir is not None:
            from neuroplast.training.profiler import ProfilerCallback

            self.profiler = ProfilerCallback(profile_dir)
        callbacks = [] if self.profiler is None else [self.profiler]
        failed = True
        try:
            with training_session(fabric=self.fabric, callbacks=callbacks):
                yield self
            failed = False
        finally:
            self.close(failed=failed)

    def train_replica(self, config: RunConfig) -> None:
        """A process other than rank 0: train its share in step with rank 0, write nothing."""
        from neuroplast.distributed._replica import train_replica

        try:
            if self.fabric is not None:
                train_replica(config, self.fabric)
        finally:
            self.close(failed=False)

    def close(self, *, failed: bool) -> None:
        """Wait for (or, after a failure, stop) the processes this one started, and leave
        the process group."""
        if self.fabric is None:
            return
        for proc in _children(self.fabric):
            _finish(proc, kill=failed)
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def _children(fabric: Fabric) -> list[subprocess.Popen[bytes]]:
    launcher = getattr(fabric.strategy, "launcher", None)
    return list(getattr(launcher, "procs", []))


def _finish(proc: subprocess.Popen[bytes], *, kill: bool) -> None:
    if not kill:
        try:
            proc.wait(timeout=CHILD_EXIT_SECONDS)
            return
        except subprocess.TimeoutExpired:
            logger.warning("training process %d did not exit; stopping it", proc.pid)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _started_outside(env: Mapping[str, str]) -> bool:
    """Whether a launcher (torchrun, srun, or our own first process) started this one."""
    return any(key in env for key in ("LOCAL_RANK", "TORCHELASTIC_RUN_ID", "SLURM_PROCID"))


def _check_relaunchable() -> None:
    """The other processes run this process's command again: it must be ``neuroplast``."""
    import __main__

    spec = getattr(__main__, "__spec__", None)
    if spec is not None:  # python -m ...
        command = spec.name
    else:  # a script runs (a console script's file); `python -c` and notebooks have none.
        # Not sys.argv[0]: a caller may rewrite it (a test runner in a `python -c` worker)
        command = Path(getattr(__main__, "__file__", None) or "-c").name
    if command not in ("neuroplast", "neuroplast.__main__"):
        raise ConfigError(
            f"--devices starts the other processes by running this command again, but it is "
            f"{command!r}, not neuroplast; run `neuroplast train ... --devices N` from a shell, "
            "or launch with torchrun (`torchrun --nproc-per-node N -m neuroplast train ...`)"
        )


def launch(config: RunConfig, options: LaunchOptions) -> Launched:
    """Start the processes ``options`` ask for (none for one device), each with its process
    group joined. Bad layouts (``--devices 0``, an unknown strategy, fsdp without CUDA GPUs)
    fail here, before any process starts."""
    from neuroplast.training.device import check_layout

    options = launch_options(options)
    layout = check_layout(
        options.devices, options.strategy, config.train.accelerator, options.num_nodes
    )
    if layout == "single":
        return Launched()
    task = config.task
    if task is not None and not getattr(task, "is_classification", True):
        raise ConfigError(
            f"task={task.value} trains in one process; --devices/--strategy train classifiers"
        )
    from neuroplast.training.device import make_fabric

    if not _started_outside(os.environ):
        _check_relaunchable()
    extra: dict[str, Any] = {}
    if "SLURM_PROCID" in os.environ and options.world_size > 1:
        from lightning_fabric.plugins.environments import SLURMEnvironment

        extra["plugins"] = [SLURMEnvironment(auto_requeue=False)]
    fabric = make_fabric(
        config.train.accelerator,
        config.train.precision,
        devices=options.devices,
        strategy=options.strategy,
        num_nodes=options.num_nodes,
        **extra,
    )
    fabric.launch()
    return Launched(fabric)
