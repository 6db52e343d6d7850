"""Tasks other than classification: anomaly detection, forecasting, text generation.

Classification keeps its own path (:func:`neuroplast.workflows.train_from_config`). Every
other task is a module named in :data:`TASK_MODULES` that exposes a function ``handler() ->
TaskHandler`` (so no submodule of it may be called ``handler``: importing it would replace
the function on the package); :func:`task_handler` imports it on first use, so that
``import neuroplast`` and ``neuroplast --help`` load none of them. A handler has these
verbs (``generate`` only for generative tasks):

    handler = task_handler("anomaly_detection")
    handler.check_config(config, where)             # validation only, before any work
    result = handler.train(config, registry)        # data -> model -> registry version
    result = handler.evaluate(registry, "shuttle-ae", split="test")
    result = handler.predict(registry, "shuttle-ae", file=Path("rows.csv"))
    result = handler.generate(registry, "fortunes-gpt", prompt="A friend")   # generative only

A generative task's handler also has ``generate`` (:class:`GenerativeHandler`; found by
:func:`generative_handler`): ``Engine.generate`` dispatches through it, so a new generative
task needs no change in the Engine. Each verb returns a :class:`TaskResult`: the version it
is about, the headline figures, a JSON-ready document (what ``--json`` prints) and the lines
a terminal shows. A handler module's top level imports neither torch nor any baseline
library: the config check runs while a YAML file is loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.config import RunConfig
    from neuroplast.registry import Registry, VersionRecord
    from neuroplast.types import ModelMetrics, TaskType

__all__ = [
    "TASK_MODULES",
    "GenerativeHandler",
    "Progress",
    "TaskHandler",
    "TaskResult",
    "generative_handler",
    "is_task_module_task",
    "task_architectures",
    "task_handler",
]

#: The task (a :class:`~neuroplast.types.TaskType` value) -> the module that handles it.
TASK_MODULES: dict[str, str] = {
    "anomaly_detection": "neuroplast.tasks.anomaly",
    "forecasting": "neuroplast.tasks.forecasting",
    "generation": "neuroplast.tasks.generation",
    "image_generation": "neuroplast.tasks.image_generation",
}

#: ``progress(description, done, total)``: what the CLI's progress bar receives.
Progress = Callable[[str, int, int], None]


@dataclass
class TaskResult:
    """What a verb of a task handler returns.

    ``metrics`` holds the headline figures (flat, JSON-ready numbers); ``document`` the whole
    ``--json`` answer (it includes ``version``); ``lines`` what the CLI prints, one string a
    line; ``plots`` the plot files written, by name."""

    version: VersionRecord
    metrics: dict[str, Any]
    document: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    plots: dict[str, Path] = field(default_factory=dict)


@runtime_checkable
class TaskHandler(Protocol):
    """The verbs every non-classification task implements (see the module docstring)."""

    task: str

    def check_config(self, config: RunConfig, where: str) -> None:
        """Validate the task's sections and ``model:`` (no data read, no torch import);
        raise :class:`~neuroplast.errors.ConfigError` naming ``where``."""
        ...

    def train(
        self,
        config: RunConfig,
        registry: Registry,
        *,
        progress: Progress | None = None,
        on_epoch: Callable[[ModelMetrics], None] | None = None,
    ) -> TaskResult:
        """Load the data, train, evaluate on the held-out part and register a version."""
        ...

    def evaluate(
        self, registry: Registry, model: str, *, split: str = "test", data: str | None = None
    ) -> TaskResult:
        """The task's metrics of a registered version (``name``, ``name:N`` or a stage),
        beside the task's classical baselines fitted in the same run."""
        ...

    def predict(self, registry: Registry, model: str, **options: Any) -> TaskResult:
        """The task's answer for new inputs; the options are the task's own (``file`` for
        anomaly rows, ``horizon`` for forecasts, ``prompt`` and sampling for generation)."""
        ...


@runtime_checkable
class GenerativeHandler(TaskHandler, Protocol):
    """A task handler that also writes new outputs (text, images): the optional verb
    ``generate`` behind :meth:`neuroplast.Engine.generate`."""

    def generate(self, registry: Registry, model: str, **options: Any) -> TaskResult:
        """New outputs of the version ``model``; the options are the task's own (text:
        ``prompt``, ``max_tokens``, ``temperature``, ``top_k``, ``top_p``, ``seed``,
        ``use_cache``). Unknown options raise :class:`~neuroplast.errors.ConfigError`."""
        ...


def task_architectures() -> dict[str, str]:
    """Architecture name -> task, for anomaly detection and forecasting (read from their
    config modules: no torch import). Generation names its own in its module."""
    from neuroplast.tasks.anomaly.config import ARCHITECTURES as ANOMALY
    from neuroplast.tasks.forecasting.config import ARCHITECTURES as FORECAST

    return {
        **dict.fromkeys(ANOMALY, "anomaly_detection"),
        **dict.fromkeys(FORECAST, "forecasting"),
    }


def is_task_module_task(task: str | TaskType | None) -> bool:
    """True when ``task`` is handled here rather than by the classification workflow."""
    return task is not None and str(task) in TASK_MODULES


def task_handler(task: str | TaskType) -> TaskHandler:
    """The handler of ``task``, its module imported now (the first time)."""
    key = str(task)
    module_name = TASK_MODULES.get(key)
    if module_name is None:
        raise ConfigError(
            f"task {key!r} has no task handler; tasks handled here: {', '.join(TASK_MODULES)} "
            "(classification tasks are trained by `neuroplast train` directly)"
        )
    module = importlib.import_module(module_name)
    make = getattr(module, "handler", None)
    if make is None:
        raise ConfigError(f"{module_name} defines no handler(); it cannot run task {key!r}")
    handler = make()
    if not isinstance(handler, TaskHandler):
        raise ConfigError(f"{module_name}.handler() does not return a TaskHandler")
    return handler


def generative_handler(task: str | TaskType | None, ref: str) -> GenerativeHandler:
    """The handler of ``task`` when it generates; else a :class:`ConfigError` naming the
    version ``ref`` and the tasks that do."""
    handler = task_handler(task) if task is not None and is_task_module_task(task) else None
    if not isinstance(handler, GenerativeHandler):
        raise ConfigError(
            f"{ref} is a {task} model and does not generate; generation needs a model "
            "trained with task: generation (`neuroplast init --template textgen-gpt`)"
        )
    return handler
