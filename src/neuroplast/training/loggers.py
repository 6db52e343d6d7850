"""Experiment tracking: each epoch's metrics, the run's hyperparameters and the registered
version, written to CSV, TensorBoard or MLflow by one callback on the training loop.

``train.loggers: [csv, tensorboard, mlflow]`` in a run config turns them on. CSV and
TensorBoard go through Lightning Fabric's loggers, MLflow through its tracking client
(``MlflowClient``: no global active run). TensorBoard and MLflow are optional packages,
imported only by a run that uses them (``pip install 'neuroplast[tracking]'``). Only global
rank 0 writes. Where it goes, with ``root`` = ``train.log_dir`` (default ``<home>/logs``)::

    root/<model name>/<run uid>/csv/metrics.csv   one row per epoch (step = epoch)
                                  /csv/hparams.yaml the flattened run config
                                  /csv/version.yaml the registered version, once it exists
    root/<model name>/<run uid>/tensorboard/      event files: scalars, hparams, version text
    root/mlflow.db                                MLflow store (experiment = model name),
                                                  unless train.mlflow_uri or
                                                  $MLFLOW_TRACKING_URI names another

Every backend records the same things under the same names: the metrics of
:class:`~neuroplast.types.ModelMetrics` (``train_loss``, ``val_loss``, ``val_accuracy``,
``learning_rate``, ``samples_per_sec``, ``seconds`` and any extra) at step = epoch, the
parameters as dotted keys (``train.optimizer.lr``), and the version as ``neuroplast.version``.
"""

from __future__ import annotations

import importlib
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from neuroplast.config import LoggerName
from neuroplast.errors import ConfigError, NeuroplastError
from neuroplast.training.callbacks import Callback
from neuroplast.types import ModelMetrics

if TYPE_CHECKING:
    from neuroplast.training.trainer import Trainer

__all__ = [
    "INSTALL_HINT",
    "LOGGERS",
    "VERSION_KEY",
    "TrackingCallback",
    "TrackingLogger",
    "TrackingTarget",
    "check_loggers",
    "epoch_values",
    "flatten_params",
    "make_tracking",
]

logger = logging.getLogger(__name__)
INSTALL_HINT = "pip install 'neuroplast[tracking]'"
VERSION_KEY = "neuroplast.version"
Status = Literal["success", "failed", "interrupted"]
Param = str | int | float | bool


def flatten_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, Param]:
    """``{"train": {"optimizer": {"lr": 1e-3}}}`` -> ``{"train.optimizer.lr": 1e-3}``.

    Lists and nulls become JSON text (``"[3, 4, 5]"``, ``"null"``): every tracker takes them.
    """
    flat: dict[str, Param] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_params(value, f"{name}."))
        elif isinstance(value, bool | int | float | str):
            flat[name] = value
        else:
            flat[name] = json.dumps(value, default=str)
    return flat


def epoch_values(metrics: ModelMetrics) -> dict[str, float]:
    """The numbers of one epoch by name (``epoch`` and unset metrics left out)."""
    values = {
        k: float(v)
        for k, v in metrics.to_dict().items()
        if k not in ("epoch", "extra") and v is not None
    }
    values.update({k: float(v) for k, v in metrics.extra.items()})
    return values


def _import_any(logger_name: str, modules: Sequence[str]) -> ModuleType:
    """The first of ``modules`` that imports, or a ConfigError naming the install command."""
    errors = []
    for module in modules:
        try:
            return importlib.import_module(module)
        except ImportError as e:
            errors.append(e)
    raise ConfigError(
        f"train.loggers: {logger_name} needs the {' or '.join(modules)} package, which cannot "
        f"be imported ({errors[0]}); install it with: {INSTALL_HINT}"
    ) from errors[0]


@dataclass(frozen=True)
class TrackingTarget:
    """Where one run's tracking goes (see the module docstring for the layout)."""

    root: Path
    experiment: str  # the model name
    run_name: str  # the registry run's uid: a resumed run writes to the same place
    mlflow_uri: str | None = None

    @property
    def run_dir(self) -> Path:
        return self.root / self.experiment / self.run_name


class TrackingLogger(ABC):
    """One tracking backend. The callback calls ``start`` once per fit (with the history a
    resumed run restored), ``log_epoch`` per epoch, ``log_version`` once the version is
    registered and ``close`` at the end."""

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, target: TrackingTarget) -> None:
        if self.requires:
            _import_any(self.name, self.requires)  # fail before training, not after it
        self.target = target

    @property
    @abstractmethod
    def location(self) -> str:
        """Where it writes, for a person to open."""

    @abstractmethod
    def start(self, params: Mapping[str, Param], history: Sequence[ModelMetrics]) -> None:
        """Open the files or the run and record the parameters (and a restored history)."""

    @abstractmethod
    def log_epoch(self, metrics: ModelMetrics) -> None:
        """Record one epoch's numbers at step = epoch."""

    @abstractmethod
    def log_version(self, ref: str) -> None:
        """Record the registered version (``rt-cnn:3``) as ``neuroplast.version``."""

    @abstractmethod
    def close(self, status: Status) -> None:
        """Flush and release the files or end the run (``status``: how the run ended)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Restore what :meth:`state_dict` returned (a resumed run)."""


def _logger_classes() -> dict[str, type[TrackingLogger]]:
    from neuroplast.training._fabric_loggers import CSVTrackingLogger, TensorBoardTrackingLogger
    from neuroplast.training._mlflow import MLflowTrackingLogger

    classes: list[type[TrackingLogger]] = [
        CSVTrackingLogger,
        TensorBoardTrackingLogger,
        MLflowTrackingLogger,
    ]
    return {cls.name: cls for cls in classes}


#: ``train.loggers`` names (the values of :data:`neuroplast.config.LoggerName`).
LOGGERS: tuple[str, ...] = get_args(LoggerName)


def check_loggers(names: Sequence[str]) -> list[type[TrackingLogger]]:
    """The classes of ``names``, after checking each is known and its package imports."""
    classes = _logger_classes()
    found = []
    for name in names:
        cls = classes.get(name)
        if cls is None:
            raise ConfigError(
                f"train.loggers: unknown logger {name!r}; choose from: {', '.join(LOGGERS)}"
            )
        if cls.requires:
            _import_any(cls.name, cls.requires)
        found.append(cls)
    return found


class TrackingCallback(Callback):
    """Sends the run to its tracking loggers: hyperparameters at fit start, metrics after
    every epoch, the version through :meth:`log_version`. Only global rank 0 writes.

    With ``close_at_fit_end`` (the default) the loggers close when the fit ends; a caller
    that registers a version afterwards passes ``False``, calls :meth:`log_version`, then
    :meth:`close` (or uses the callback as a context manager, which closes it with the
    status of the block: success, failed or interrupted).
    """

    def __init__(
        self,
        loggers: Sequence[TrackingLogger],
        *,
        params: Mapping[str, Param] | None = None,
        close_at_fit_end: bool = True,
    ) -> None:
        self.loggers = list(loggers)
        self.params = None if params is None else dict(params)
        self.close_at_fit_end = close_at_fit_end
        self.active = False  # set at fit start: True on global rank 0
        self.closed = False

    @property
    def locations(self) -> dict[str, str]:
        """Logger name -> where it writes."""
        return {lg.name: lg.location for lg in self.loggers}

    def on_fit_start(self, trainer: Trainer) -> None:
        self.active = bool(trainer.fabric.is_global_zero)
        if not self.active:
            return
        params = self.params
        if params is None:
            params = flatten_params({"train": trainer.config.model_dump(mode="json")})
        for lg in self.loggers:
            lg.start(params, trainer.history)
            logger.info("%s tracking: %s", lg.name, lg.location)

    def on_epoch_end(self, trainer: Trainer, metrics: ModelMetrics) -> None:
        if self.active:
            for lg in self.loggers:
                lg.log_epoch(metrics)

    def on_fit_end(self, trainer: Trainer, history: list[ModelMetrics]) -> None:
        if self.close_at_fit_end:
            self.close("success")

    def log_version(self, ref: str) -> None:
        """Record the registered version (``rt-cnn:3``) with the run."""
        if self.active and not self.closed:
            for lg in self.loggers:
                lg.log_version(ref)

    def close(self, status: Status = "success") -> None:
        if self.active and not self.closed:
            for lg in self.loggers:
                lg.close(status)
        self.closed = True

    def __enter__(self) -> TrackingCallback:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close("success")
            return
        try:  # the error that ended the block is the one to report
            self.close("interrupted" if issubclass(exc_type, KeyboardInterrupt) else "failed")
        except NeuroplastError as e:
            logger.warning("could not close the tracking loggers: %s", e)

    def state_dict(self) -> dict[str, Any]:
        return {lg.name: lg.state_dict() for lg in self.loggers}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for lg in self.loggers:
            if lg.name in state:
                lg.load_state_dict(state[lg.name])


def make_tracking(
    names: Sequence[str],
    target: TrackingTarget,
    *,
    params: Mapping[str, Param] | None = None,
    close_at_fit_end: bool = True,
) -> TrackingCallback:
    """The callback of ``train.loggers``: ``make_tracking(["csv"], TrackingTarget(...))``."""
    loggers = [cls(target) for cls in check_loggers(names)]
    return TrackingCallback(loggers, params=params, close_at_fit_end=close_at_fit_end)
