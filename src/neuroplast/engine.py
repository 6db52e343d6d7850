"""The Engine: a thin facade over the registry, model manager, trainer and workflows.

>>> engine = Engine(home="/tmp/np-home")            # nothing is created at import time
>>> engine.get_model_info("rt-cnn")                  # doctest: +SKIP

It holds no training, storage or inference logic of its own; each call hands the work to
the service that owns it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from neuroplast.config import RunConfig, load_run_config, parse_run_config
from neuroplast.errors import ConfigError
from neuroplast.registry import (
    Registry,
    VersionRecord,
)
from neuroplast.types import ModelType, TaskType

if TYPE_CHECKING:  # the services below import torch: each is loaded on first use
    import numpy as np

    from neuroplast._model_manager import ModelManager
    from neuroplast._training_engine import TrainingEngine
    from neuroplast.compression.optimizer import ModelOptimizer
    from neuroplast.continual.api import ContinualLearnerAPI
    from neuroplast.explain import Explainer
    from neuroplast.inference import LoadedModel, Prediction
    from neuroplast.inference.base import BasePredictor
    from neuroplast.tasks import TaskResult
    from neuroplast.workflows import EvaluationReport, TrainOutcome

from neuroplast._engine_encoders import EncoderVerbs
from neuroplast._engine_models import ModelVerbs
from neuroplast._engine_registry import RegistryVerbs
from neuroplast._engine_serving import ServingVerbs

__all__ = ["Engine", "get_default_engine", "set_default_engine"]


class Engine(RegistryVerbs, ServingVerbs, EncoderVerbs, ModelVerbs):
    """Everything neuroplast does, by model id (``name`` or ``name:version``)."""

    def __init__(self, home: str | Path | None = None, *, db_url: str | None = None) -> None:
        self._home = home
        self._db_url = db_url
        self._registry: Registry | None = None
        self._model_manager: ModelManager | None = None
        self._training_engine: TrainingEngine | None = None
        self._continual: ContinualLearnerAPI | None = None
        self._optimizer: ModelOptimizer | None = None
        self._explainer: Explainer | None = None

    @property
    def registry(self) -> Registry:
        """The registry on ``home``, opened on first use (``continual compare`` and
        ``reproduce`` never open it)."""
        if self._registry is None:
            self._registry = Registry(self._home, url=self._db_url)
        return self._registry

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
        if self._registry is not None:
            self._registry.close()

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
        """Create a model from ``config``, train it on the loaders, save it; returns its id.

        ``task_type`` anomaly_detection or forecasting trains one of that task's
        architectures on loaders of tensors (:func:`neuroplast.tasks.api.create_and_train`)."""
        if not TaskType(task_type).is_classification:
            from neuroplast.tasks.api import create_and_train

            return create_and_train(
                self.registry,
                model_name,
                str(model_type),
                TaskType(task_type).value,
                train_data,
                val_data,
                config,
                num_epochs=num_epochs,
                optimizer_config=optimizer_config,
                early_stopping_patience=early_stopping_patience,
                **train_options,
            )
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
    ) -> EvaluationReport | TaskResult:
        """Evaluate on the model's own ``split`` (train / val / test) or on a labelled file,
        end to end through the Predictor on ``backend`` (torch, torch-int8, onnx,
        onnx-int8 or auto), so that the figures are those of the model as it is served.

        An anomaly detection, forecasting or generation version is evaluated by its task's
        handler (its own metrics beside its baselines, on torch): a
        :class:`~neuroplast.tasks.TaskResult` (``.metrics``, ``.document``)."""
        if (task := self._task_of(model_id)) is not None:
            if backend != "torch":
                raise ConfigError(f"{model_id} is a {task} model: it is evaluated on torch only")
            from neuroplast.tasks import task_handler

            return task_handler(task).evaluate(self.registry, model_id, split=split, data=data)
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

    def predictor(self, model_id: str, *, backend: str = "torch") -> BasePredictor:
        """The Predictor of a registered version, as it is served: eager torch by default,
        int8 for versions made by ``compress --quantize`` (a static one loads its stored
        calibrated state); ``backend`` torch-int8, onnx, onnx-int8 or auto (the fastest that
        agrees with fp32, per batch size)."""
        from neuroplast.inference import Predictor

        if backend != "torch":
            from neuroplast.inference.registered import registered_predictor

            return registered_predictor(self.registry, model_id, backend=backend)

        loaded = self.model_manager.get_loaded(model_id)
        if loaded.meta.compression.get("quantization") != "static":
            return Predictor(loaded)
        from neuroplast.inference.registered import registered_predictor

        version = self.registry.resolve(model_id)
        return registered_predictor(
            self.registry, version.ref, backend="torch", preloaded=(version, loaded)
        )

    def predict(
        self,
        model_id: str,
        inputs: Sequence[str | Path] | np.ndarray,
        *,
        top_k: int = 1,
        backend: str = "torch",
    ) -> list[Prediction]:
        """Labels and probabilities for raw texts, or for an image model image files (paths)
        or uint8 images [N, C, H, W]; on ``backend`` (see :meth:`predictor`). Anomaly
        detection, forecasting and generation versions answer :meth:`predict_task`."""
        if (task := self._task_of(model_id)) is not None:
            raise ConfigError(
                f"{model_id} ({task}): use Engine.predict_task({model_id!r}, ...) "
                "(file=, horizon=, prompt=...), which returns the task's result"
            )
        predictor = self.predictor(model_id, backend=backend)
        if predictor.modality != "text" and not hasattr(inputs, "shape"):
            from neuroplast.inference import load_image_files

            c, h, _ = predictor.pre["image_shape"]
            paths = [Path(p) for p in inputs]
            inputs = load_image_files(paths, channels=int(c), size=int(h))
        return predictor.predict(cast("Sequence[str] | np.ndarray", inputs), top_k=top_k)

    def generate(
        self,
        model_id: str,
        prompt: str | None = None,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        use_cache: bool | None = None,
        **options: Any,
    ) -> TaskResult:
        """New output of a generative version, like ``neuroplast generate``: for text, the
        continuation of ``prompt`` (``result.document["text"]``) sampled with
        ``temperature`` (0 = greedy), ``top_k``, ``top_p`` and ``seed`` (default 0: the
        same seed, the same text); None keeps the version's default. Dispatched through
        the task's handler (:class:`neuroplast.tasks.GenerativeHandler`): ``options`` are
        that task's own; a classifier, anomaly or forecasting model raises ConfigError."""
        from neuroplast.tasks import generative_handler

        version = self.registry.resolve(model_id)
        handler = generative_handler(version.task, version.ref)
        given = dict(prompt=prompt, max_tokens=max_tokens, temperature=temperature, top_k=top_k)
        given.update(top_p=top_p, seed=seed, use_cache=use_cache, **options)
        chosen = {k: v for k, v in given.items() if v is not None}
        return handler.generate(self.registry, version.ref, **chosen)

    def predict_task(
        self, model_id: str, inputs: Sequence[str | Path] | None = None, **options: Any
    ) -> TaskResult:
        """What an anomaly detection, forecasting or generation version answers, through
        its task's handler (like ``neuroplast predict``): ``file=`` (rows or a series) and
        ``backend=`` torch / onnx, or image files as ``inputs``, for anomalies; ``horizon=``
        and ``plot=`` for forecasts; prompts as ``inputs`` (or ``prompt=``) and the
        sampling options for text. ``result.document`` is the ``--json`` answer."""
        task = self._task_of(model_id)
        if task is None:
            raise ConfigError(f"{model_id} is a classifier: use Engine.predict(model, inputs)")
        from neuroplast.tasks import task_handler

        if inputs is not None:
            options["inputs" if task == "generation" else "images"] = [str(x) for x in inputs]
        return task_handler(task).predict(self.registry, model_id, **options)

    def _task_of(self, model_id: str) -> str | None:
        """The version's task when a task handler answers it (not classification)."""
        from neuroplast.tasks import is_task_module_task

        task = self.registry.resolve(model_id).task
        return str(task) if task is not None and is_task_module_task(task) else None


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
