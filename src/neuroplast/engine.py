"""The Engine: a thin facade over the registry, model manager, trainer and workflows.

>>> engine = Engine(home="/tmp/np-home")            # nothing is created at import time
>>> engine.get_model_info("rt-cnn")                  # doctest: +SKIP

It holds no training, storage or inference logic of its own; each call hands the work to
the service that owns it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.config import RunConfig, load_run_config, parse_run_config
from neuroplast.errors import ConfigError
from neuroplast.registry import (
    Event,
    Registry,
    VersionRecord,
    history,
    lineage,
    promote,
    rollback,
)
from neuroplast.registry.traffic import ArmStatus, Routing, parse_split
from neuroplast.types import ModelType, TaskType

if TYPE_CHECKING:  # the services below import torch: each is loaded on first use
    import numpy as np
    from fastapi import FastAPI

    from neuroplast._model_manager import ModelManager
    from neuroplast._training_engine import TrainingEngine
    from neuroplast.compression.optimizer import ModelOptimizer
    from neuroplast.continual.api import ContinualLearnerAPI
    from neuroplast.explain import Explainer
    from neuroplast.inference import LoadedModel, Prediction
    from neuroplast.inference.base import BasePredictor
    from neuroplast.registry.maintenance import VerifyReport
    from neuroplast.workflows import EvaluationReport, TrainOutcome

__all__ = ["Engine", "get_default_engine", "set_default_engine"]


class Engine:
    """Everything neuroplast does, by model id (``name`` or ``name:version``)."""

    def __init__(self, home: str | Path | None = None, *, db_url: str | None = None) -> None:
        self.registry = Registry(home, url=db_url)
        self._model_manager: ModelManager | None = None
        self._training_engine: TrainingEngine | None = None
        self._continual: ContinualLearnerAPI | None = None
        self._optimizer: ModelOptimizer | None = None
        self._explainer: Explainer | None = None

    @property
    def home(self) -> Path:
        return self.registry.home

    @property
    def model_manager(self) -> ModelManager:
        """Create, load and save models by id (the seed's ``ModelManager``)."""
        if self._model_manager is None:
            from neuroplast._model_manager import ModelManager

            self._model_manager = ModelManager(self.registry)
        return self._model_manager

    @property
    def training_engine(self) -> TrainingEngine:
        """Train a created model on the caller's own loaders (the seed's ``TrainingEngine``)."""
        if self._training_engine is None:
            from neuroplast._training_engine import TrainingEngine

            self._training_engine = TrainingEngine(self.registry, self.model_manager)
        return self._training_engine

    @property
    def continual_learner(self) -> ContinualLearnerAPI:
        """EWC by model id (``compute_fisher_information`` / ``ewc_loss``) and updates."""
        if self._continual is None:
            from neuroplast.continual.api import ContinualLearnerAPI

            self._continual = ContinualLearnerAPI(self.model_manager)
        return self._continual

    @property
    def optimizer(self) -> ModelOptimizer:
        """Compression by model id: ``quantize_model``, ``prune_model``, ``distill``,
        ``export_onnx`` (each registers a new version; the table is in ``optimizer.last``)."""
        if self._optimizer is None:
            from neuroplast.compression.optimizer import ModelOptimizer

            self._optimizer = ModelOptimizer(self.registry)
        return self._optimizer

    @property
    def explainer(self) -> Explainer:
        """Explanations by model id: ``get_attention_weights``, ``compute_feature_importance``
        and ``layer_activations`` (see :mod:`neuroplast.explain`)."""
        if self._explainer is None:
            from neuroplast.explain import Explainer

            self._explainer = Explainer(self.model_manager.get_loaded)
        return self._explainer

    def close(self) -> None:
        self.registry.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the seed engine's API -----------------------------------------------------------
    def create_and_train_model(
        self,
        model_name: str,
        model_type: ModelType | str,
        task_type: TaskType | str,
        train_data: Iterable[Any],
        val_data: Iterable[Any] | None,
        config: dict[str, Any],
        *,
        num_epochs: int = 10,
        optimizer_config: dict[str, Any] | None = None,
        scheduler_config: dict[str, Any] | None = None,
        early_stopping_patience: int | None = 3,
        label_names: list[str] | None = None,
        **train_options: Any,
    ) -> str:
        """Create a model from ``config``, train it on the loaders, save it; returns its id."""
        model_id = self.model_manager.create_model(
            model_name, model_type, task_type, config, label_names=label_names
        )
        self.training_engine.train(
            model_id,
            train_data,
            val_data,
            num_epochs=num_epochs,
            optimizer_config=optimizer_config,
            scheduler_config=scheduler_config,
            early_stopping_patience=early_stopping_patience,
            **train_options,
        )
        return model_id

    def get_model_info(self, model_id: str) -> dict[str, Any]:
        """Name, architecture, parameter count, task, metrics, versions and history of a model."""
        version = self.registry.resolve(model_id)
        history = self.registry.epoch_metrics(version.run_id) if version.run_id else []
        return {
            "model_id": version.ref,
            "model_name": version.model_name,
            "version": version.version,
            "uid": version.uid,
            "architecture": version.architecture,
            "modality": version.modality,
            "task": version.task,
            "parameters_count": version.params_count or self._count_parameters(version.ref),
            "size_bytes": version.size_bytes,
            "stage": version.stage,
            "source": version.source,
            "created_at": version.created_at.isoformat(),
            "metrics": version.metrics,
            "config": version.config,
            "versions": [v.ref for v in self.registry.versions(version.model_name)],
            "training_history": [m.to_dict() for m in history],
            "evaluations": [
                {
                    "split": e.split,
                    "accuracy": e.metrics.get("accuracy"),
                    "at": e.created_at.isoformat(),
                }
                for e in self.registry.evaluations(version)
            ],
            "artifact_dir": str(version.artifact_dir),
        }

    def _count_parameters(self, ref: str) -> int:
        from neuroplast.models import count_parameters

        return count_parameters(self.model_manager.get_model(ref))

    # ---- stages and their audit trail ------------------------------------------------------
    def promote(self, model_id: str, stage: str, *, reason: str = "") -> VersionRecord:
        """Move a version to ``candidate``, ``production`` or ``archived``."""
        return promote(self.registry, model_id, stage, reason=reason)

    def rollback(self, model_name: str, *, reason: str = "") -> VersionRecord:
        """Put the previous production version of ``model_name`` back in production."""
        return rollback(self.registry, model_name, reason=reason)

    def history(self, model_name: str) -> list[Event]:
        """Who registered, promoted, archived or rolled back which version, when and why."""
        return history(self.registry, model_name)

    def versions(self, model_name: str) -> list[VersionRecord]:
        """Every ready version, oldest first, with its parent, source, stage and metrics."""
        return self.registry.versions(self.registry.resolve(model_name).model_name)

    def lineage(self, model_id: str) -> list[VersionRecord]:
        """The version and its ancestors, newest first."""
        return lineage(self.registry, model_id)

    def delete(self, model_id: str, *, force: bool = False, reason: str = "") -> str:
        """Remove one version's rows and files (production only with ``force``)."""
        from neuroplast.registry.maintenance import delete_version

        return delete_version(self.registry, model_id, force=force, reason=reason)

    def export(self, model_id: str, out: str | Path) -> Path:
        """Write a self-contained, hash-verified bundle (tar) of one version."""
        from neuroplast.registry.transfer import export_version

        return export_version(self.registry, model_id, Path(out))

    def import_bundle(self, bundle: str | Path, *, name: str | None = None) -> VersionRecord:
        """Register an exported bundle as a new version (every file's hash checked first)."""
        from neuroplast.registry.transfer import import_bundle

        return import_bundle(self.registry, Path(bundle), name=name)

    def verify(self) -> VerifyReport:
        """Re-hash every artifact; list orphans and interrupted writes."""
        from neuroplast.registry.maintenance import verify

        return verify(self.registry)

    def gc(self) -> list[str]:
        """Remove orphaned artifact files and leftovers of interrupted writes."""
        from neuroplast.registry.maintenance import gc

        return gc(self.registry)

    # ---- A/B tests and shadows (what a running server routes) ------------------------------
    def ab_start(
        self,
        model: str,
        split: Mapping[int, float] | str,
        *,
        sticky_key: str | None = None,
        reason: str = "",
    ) -> Routing:
        """Split ``model``'s traffic between versions: ``{3: 0.9, 4: 0.1}`` or ``"3:0.9,4:0.1"``
        (weights > 0 summing to 1); ``sticky_key`` keeps each user on one version."""
        weights = parse_split(split) if isinstance(split, str) else split
        return self.registry.start_ab(model, weights, sticky_key=sticky_key, reason=reason)

    def ab_shadow(self, ref: str, *, remove: bool = False, reason: str = "") -> Routing:
        """Mirror every request of the model to version ``ref`` (``name:N``), never answering
        with it; ``remove`` stops that."""
        if remove:
            return self.registry.remove_shadow(ref, reason=reason)
        return self.registry.add_shadow(ref, reason=reason)

    def ab_status(
        self, model: str, *, since: datetime | timedelta | None = None
    ) -> list[ArmStatus]:
        """Per version and arm: requests, latency p50/p95/p99, a shadow's agreement with the
        answering version, feedback and accuracy; ``since`` a moment or a time ago."""
        if isinstance(since, timedelta):
            since = datetime.now(UTC) - since
        return self.registry.ab_status(model, since=since)

    def ab_stop(self, model: str, *, promote: int | None = None, reason: str = "") -> Routing:
        """End ``model``'s A/B test; ``promote`` makes that version production first."""
        return self.registry.stop_ab(model, promote=promote, reason=reason)

    # ---- config-driven workflows ---------------------------------------------------------
    def train(
        self,
        config: RunConfig | dict[str, Any] | str | Path,
        *,
        overrides: Sequence[str] = (),
        resume: bool = False,
        **kwargs: Any,
    ) -> TrainOutcome:
        """Train from a run config (a YAML path, a mapping or a :class:`RunConfig`)."""
        from neuroplast.workflows import train_from_config

        if isinstance(config, str | Path):
            run_config = load_run_config(config, list(overrides))
        elif isinstance(config, dict):
            run_config = parse_run_config(config)
        else:
            run_config = config
        return train_from_config(run_config, self.registry, resume=resume, **kwargs)

    def evaluate(
        self,
        model_id: str,
        *,
        split: str = "test",
        data: str | None = None,
        backend: str = "torch",
    ) -> EvaluationReport:
        """Evaluate on the model's own ``split`` (train / val / test) or on a labelled file,
        end to end through the Predictor on ``backend`` (torch, torch-int8, onnx,
        onnx-int8 or auto), so that the figures are those of the model as it is served."""
        from neuroplast.data.prepare import Split
        from neuroplast.inference.auto import check_backend
        from neuroplast.inference.registered import registered_predictor
        from neuroplast.workflows import evaluate_registered
        from neuroplast.workflows.report import ProbaFn

        splits: dict[str, Split] = {"train": "train", "val": "val", "test": "test"}
        if split not in splits:
            raise ConfigError(f"--split must be train, val or test, not {split!r}")
        check_backend(backend)

        def proba_for(version: VersionRecord, loaded: LoadedModel) -> ProbaFn:
            return registered_predictor(
                self.registry, version.ref, backend=backend, preloaded=(version, loaded)
            ).predict_proba

        return evaluate_registered(
            self.registry, model_id, split=splits[split], data_path=data, proba_for=proba_for
        )

    def predictor(self, model_id: str) -> BasePredictor:
        """The eager Predictor of a registered version, as it is served: int8 for versions
        made by ``compress --quantize`` (a static one loads its stored calibrated state)."""
        from neuroplast.inference import Predictor

        loaded = self.model_manager.get_loaded(model_id)
        if loaded.meta.compression.get("quantization") != "static":
            return Predictor(loaded)
        from neuroplast.inference.registered import registered_predictor

        version = self.registry.resolve(model_id)
        return registered_predictor(
            self.registry, version.ref, backend="torch", preloaded=(version, loaded)
        )

    def predict(
        self, model_id: str, inputs: Sequence[str] | np.ndarray, *, top_k: int = 1
    ) -> list[Prediction]:
        """Labels and probabilities for raw texts (or uint8 images [N, C, H, W])."""
        return self.predictor(model_id).predict(inputs, top_k=top_k)

    def serve(self, models: Sequence[str] | None = None, **options: Any) -> FastAPI:
        """The HTTP server as an ASGI app (FastAPI) to run or mount: ``models`` by name
        (default: every model with a production version). ``options`` are those of
        :class:`~neuroplast.serving.pool.ServeSettings` (``backend``, ``max_batch``,
        ``max_wait_ms``, ...), of :class:`~neuroplast.serving.limits.Limits`
        (``max_body_bytes``, ``max_inputs``, ``max_text_chars``, ``max_image_pixels``) and
        ``api_key`` (default ``$NEUROPLAST_API_KEY``). The models load in the app's lifespan."""
        from neuroplast.serving.app import create_app
        from neuroplast.serving.limits import Limits
        from neuroplast.serving.pool import ServeSettings
        from neuroplast.serving.server import served_models, split_options

        settings, limits, api_key = split_options(ServeSettings, Limits, options)
        names = served_models(self.registry, models or ())
        return create_app(self.registry, names, settings, limits=limits, api_key=api_key)


_default: Engine | None = None


def get_default_engine() -> Engine:
    """A process-wide Engine on ``$NEUROPLAST_HOME``, created on first use."""
    global _default
    if _default is None:
        _default = Engine()
    return _default


def set_default_engine(engine: Engine | None) -> None:
    """Replace (or with ``None`` forget) the default engine, e.g. in tests."""
    global _default
    _default = engine
