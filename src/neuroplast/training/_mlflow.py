"""The MLflow tracking logger: one MLflow run per registry run, through ``MlflowClient``.

The store is ``train.mlflow_uri``, else ``$MLFLOW_TRACKING_URI``, else a SQLite file
``<log root>/mlflow.db`` (MLflow 3 refuses its old ``./mlruns`` file store by default):
``mlflow ui --backend-store-uri sqlite:///<log root>/mlflow.db`` shows every model's runs,
one experiment per model name. ``mlflow`` is imported when a run uses this logger.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from neuroplast.errors import ConfigError, NeuroplastError, TrainingError
from neuroplast.training.loggers import (
    VERSION_KEY,
    Param,
    Status,
    TrackingLogger,
    TrackingTarget,
    epoch_values,
)
from neuroplast.types import ModelMetrics

__all__ = ["MLflowTrackingLogger"]

_STATUS = {"success": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
_PARAMS_PER_CALL = 100  # MLflow's log_batch limit


class MLflowTrackingLogger(TrackingLogger):
    """Parameters, per-epoch metrics (step = epoch) and the version tag of one MLflow run."""

    name = "mlflow"
    requires = ("mlflow",)
    DB = "mlflow.db"

    def __init__(self, target: TrackingTarget) -> None:
        super().__init__(target)
        self.local = not (target.mlflow_uri or os.environ.get("MLFLOW_TRACKING_URI"))
        self.uri = (
            f"sqlite:///{(target.root / self.DB).resolve()}"
            if self.local
            else str(target.mlflow_uri or os.environ["MLFLOW_TRACKING_URI"])
        )
        self.run_id: str | None = None
        self._client: Any = None

    @property
    def location(self) -> str:
        run = "" if self.run_id is None else f", run {self.run_id}"
        return f"{self.uri} (experiment {self.target.experiment}{run})"

    @contextmanager
    def _errors(self, action: str, error: type[NeuroplastError] = TrainingError) -> Iterator[None]:
        from mlflow.exceptions import MlflowException

        try:
            yield
        except MlflowException as e:
            raise error(
                f"MLflow at {self.uri}: could not {action}: {e.message}; check train.mlflow_uri "
                "or $MLFLOW_TRACKING_URI, or drop mlflow from train.loggers"
            ) from e

    def start(self, params: Mapping[str, Param], history: Sequence[ModelMetrics]) -> None:
        from mlflow.tracking import MlflowClient

        if self.local:
            self.target.root.mkdir(parents=True, exist_ok=True)
        with self._errors("open the store", ConfigError):
            self._client = MlflowClient(tracking_uri=self.uri)
            if self.run_id is not None and self._reopen():
                return
            experiment = self._client.get_experiment_by_name(self.target.experiment)
            if experiment is not None:
                experiment_id = experiment.experiment_id
            else:
                artifacts = (self.target.root / "mlartifacts").resolve().as_uri()
                experiment_id = self._client.create_experiment(
                    self.target.experiment, artifact_location=artifacts if self.local else None
                )
            run = self._client.create_run(
                experiment_id,
                run_name=self.target.run_name,
                tags={"neuroplast.run": self.target.run_name},
            )
        self.run_id = run.info.run_id
        self._log_params(params)
        for metrics in history:  # a resumed run whose MLflow run could not be found
            self.log_epoch(metrics)

    def _reopen(self) -> bool:
        """Continue the MLflow run of a resumed registry run; False if it is gone."""
        from mlflow.exceptions import MlflowException

        try:
            self._client.get_run(self.run_id)
        except MlflowException:
            self.run_id = None
            return False
        self._client.update_run(self.run_id, status="RUNNING")
        return True

    def _log_params(self, params: Mapping[str, Param]) -> None:
        from mlflow.entities import Param as MlflowParam

        items = [MlflowParam(k, str(v)) for k, v in params.items()]
        with self._errors("log the parameters"):
            for i in range(0, len(items), _PARAMS_PER_CALL):
                self._client.log_batch(self.run_id, params=items[i : i + _PARAMS_PER_CALL])

    def log_epoch(self, metrics: ModelMetrics) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        values = [Metric(k, v, now, metrics.epoch) for k, v in epoch_values(metrics).items()]
        with self._errors(f"log epoch {metrics.epoch}"):
            self._client.log_batch(self.run_id, metrics=values)

    def log_version(self, ref: str) -> None:
        with self._errors("tag the version"):
            self._client.set_tag(self.run_id, VERSION_KEY, ref)

    def close(self, status: Status) -> None:
        if self._client is not None and self.run_id is not None:
            with self._errors("end the run"):
                self._client.set_terminated(self.run_id, status=_STATUS[status])

    def state_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.run_id = state.get("run_id")
