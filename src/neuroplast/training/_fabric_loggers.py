"""The CSV and TensorBoard tracking loggers, on Lightning Fabric's ``CSVLogger`` and
``TensorBoardLogger`` (see :mod:`neuroplast.training.loggers` for the layout)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from neuroplast.training.loggers import (
    VERSION_KEY,
    Param,
    Status,
    TrackingLogger,
    TrackingTarget,
    epoch_values,
)
from neuroplast.types import ModelMetrics

__all__ = ["CSVTrackingLogger", "TensorBoardTrackingLogger"]


class CSVTrackingLogger(TrackingLogger):
    """``metrics.csv`` with one row per epoch (Fabric's ``CSVLogger``), ``hparams.yaml`` and
    ``version.yaml`` beside it. A resumed run rewrites the file from the restored history."""

    name = "csv"
    METRICS, PARAMS, VERSION = "metrics.csv", "hparams.yaml", "version.yaml"

    def __init__(self, target: TrackingTarget) -> None:
        super().__init__(target)
        self.directory = target.run_dir / "csv"
        self._csv: Any = None

    @property
    def location(self) -> str:
        return str(self.directory / self.METRICS)

    def start(self, params: Mapping[str, Param], history: Sequence[ModelMetrics]) -> None:
        from lightning_fabric.loggers import CSVLogger

        for stale in (self.METRICS, self.PARAMS, self.VERSION):  # ours, rewritten below
            (self.directory / stale).unlink(missing_ok=True)
        self._csv = CSVLogger(
            self.directory.parent, name="", version=self.directory.name, flush_logs_every_n_steps=1
        )
        self._csv.experiment  # noqa: B018  (creates the folder before we add files to it)
        _write_yaml(self.directory / self.PARAMS, dict(params))
        for metrics in history:
            self.log_epoch(metrics)

    def log_epoch(self, metrics: ModelMetrics) -> None:
        self._csv.log_metrics({"epoch": metrics.epoch, **epoch_values(metrics)}, metrics.epoch)

    def log_version(self, ref: str) -> None:
        _write_yaml(self.directory / self.VERSION, {VERSION_KEY: ref})

    def close(self, status: Status) -> None:
        if self._csv is not None:
            self._csv.finalize(status)


class TensorBoardTrackingLogger(TrackingLogger):
    """Event files through Fabric's ``TensorBoardLogger`` (on ``tensorboardX``, or on
    ``tensorboard`` where that is installed): scalars per epoch, the hyperparameters in the
    HParams plugin, the version as a text summary."""

    name = "tensorboard"
    requires = ("tensorboardX", "torch.utils.tensorboard")
    HPARAM_METRICS = ("train_loss", "val_loss", "val_accuracy")  # the HParams table's columns

    def __init__(self, target: TrackingTarget) -> None:
        super().__init__(target)
        self.directory = target.run_dir / "tensorboard"
        self._tb: Any = None

    @property
    def location(self) -> str:
        return str(self.directory)

    def start(self, params: Mapping[str, Param], history: Sequence[ModelMetrics]) -> None:
        from lightning_fabric.loggers import TensorBoardLogger

        resumed = len(history) > 0
        # a resumed run hides what an earlier attempt logged after its checkpoint
        writer_options: dict[str, Any] = {"purge_step": len(history) + 1} if resumed else {}
        self._tb = TensorBoardLogger(
            self.directory.parent,
            name="",
            version=self.directory.name,
            default_hp_metric=False,
            **writer_options,
        )
        if not resumed:
            self._log_hparams(params)

    def _log_hparams(self, params: Mapping[str, Param]) -> None:
        """The HParams plugin's three summaries, as Fabric's ``log_hyperparams`` writes them
        but without logging placeholder values of the metrics it names."""
        experiment = self._tb.experiment
        if type(experiment).__module__.startswith("tensorboardX"):
            from tensorboardX.summary import hparams
        else:
            from torch.utils.tensorboard.summary import hparams
        writer = experiment._get_file_writer()
        for summary in hparams(dict(params), dict.fromkeys(self.HPARAM_METRICS, 0.0)):
            writer.add_summary(summary)

    def log_epoch(self, metrics: ModelMetrics) -> None:
        self._tb.log_metrics(epoch_values(metrics), step=metrics.epoch)

    def log_version(self, ref: str) -> None:
        self._tb.experiment.add_text(VERSION_KEY, ref)
        self._tb.save()

    def close(self, status: Status) -> None:
        if self._tb is not None:
            self._tb.finalize(status)


def _write_yaml(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=True), encoding="utf-8")
