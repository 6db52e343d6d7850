"""The Engine: a thin facade over the registry, model manager, trainer and workflows.

>>> engine = Engine(home="/tmp/np-home")            # nothing is created at import time
>>> engine.get_model_info("rt-cnn")                  # doctest: +SKIP

It holds no training, storage or inference logic of its own; each call hands the work to
the service that owns it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

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
    from neuroplast.compression.bench import BenchReport
    from neuroplast.compression.export import ExportOutcome
    from neuroplast.compression.optimizer import CompressOutcome, ModelOptimizer
    from neuroplast.continual.api import ContinualLearnerAPI
    from neuroplast.continual.config import ContinualConfig
    from neuroplast.continual.experiments import Comparison
    from neuroplast.continual.reproduce import ReproduceResult
    from neuroplast.continual.runner import RunResult
    from neuroplast.continual.update import UpdateOutcome
    from neuroplast.continual.workflow import ContinualOutcome
    from neuroplast.encoders.index import SearchHit
    from neuroplast.encoders.service import BuiltIndex, Embeddings
    from neuroplast.explain import Explainer
    from neuroplast.explain.run import ExplainReport
    from neuroplast.inference import LoadedModel, Prediction
    from neuroplast.inference.base import BasePredictor
    from neuroplast.loop import LoopPolicy, LoopReport
    from neuroplast.monitoring import MonitorReport
    from neuroplast.registry.maintenance import VerifyReport
    from neuroplast.workflows import EvaluationReport, TrainOutcome

__all__ = ["Engine", "get_default_engine", "set_default_engine"]


class Engine:
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

    def export_bundle(self, model_id: str, out: str | Path, *, force: bool = False) -> Path:
        """Write a self-contained, hash-verified bundle (tar) of one version, to move it to
        another registry (``import_bundle``); ``out`` is a new path, or an existing file
        replaced with ``force``. For ONNX, see :meth:`export_onnx`."""
        from neuroplast._output_paths import check_output_file
        from neuroplast.registry.transfer import export_version

        check_output_file(Path(out), force=force)  # before the registry is opened
        return export_version(self.registry, model_id, Path(out), force=force)

    def export(self, model_id: str, out: str | Path) -> Path:
        """The former name of :meth:`export_bundle` (a tar bundle, not ONNX)."""
        return self.export_bundle(model_id, out)

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
        or uint8 images [N, C, H, W]; on ``backend`` (see :meth:`predictor`)."""
        predictor = self.predictor(model_id, backend=backend)
        if predictor.modality != "text" and not hasattr(inputs, "shape"):
            from neuroplast.inference import load_image_files

            c, h, _ = predictor.pre["image_shape"]
            paths = [Path(p) for p in inputs]
            inputs = load_image_files(paths, channels=int(c), size=int(h))
        return predictor.predict(cast("Sequence[str] | np.ndarray", inputs), top_k=top_k)

    # ---- sentence vectors and vector indexes (neuroplast.encoders) -------------------------
    @property
    def embeddings(self) -> Embeddings:
        """Pretrained sentence encoders with the registry's embedding cache, and indexes."""
        service: Embeddings | None = getattr(self, "_embeddings", None)
        if service is None:
            from neuroplast.encoders.service import Embeddings

            service = self._embeddings = Embeddings(self.registry)
        return service

    def embed(
        self, texts: Sequence[str], encoder: str = "minilm", *, dtype: str = "float32"
    ) -> np.ndarray:
        """Unit-length sentence vectors ``[len(texts), dim]`` of ``dtype`` (float32 or
        float16), mean-pooled over the attention mask; cached in the registry."""
        return self.embeddings.embed(texts, encoder, dtype=dtype)

    def build_index(
        self,
        name: str,
        texts: Sequence[str],
        *,
        encoder: str = "minilm",
        labels: Sequence[str | None] | None = None,
        kind: str = "auto",
        source: str = "",
    ) -> BuiltIndex:
        """Embed ``texts`` and register a faiss index over them as ``name`` (a new version)."""
        return self.embeddings.build_index(
            name, texts, encoder=encoder, labels=labels, kind=kind, source=source
        )

    def search(
        self, index: str, query: str | Sequence[str], top_k: int = 5
    ) -> list[SearchHit] | list[list[SearchHit]]:
        """The ``top_k`` nearest items of ``query`` in the index ``index``; refused when
        the index was built by another encoder or other weights."""
        return self.embeddings.search(index, query, top_k)

    # ---- compression, ONNX, speed and explanations ---------------------------------------
    def compress(
        self,
        model_id: str,
        *,
        quantize: str | None = None,
        prune: float | None = None,
        structured: bool = False,
        finetune_epochs: int = 0,
        distill_from: str | None = None,
        student_config: dict[str, Any] | None = None,
        epochs: int = 3,
        temperature: float = 4.0,
        alpha: float = 0.7,
        all_techniques: bool = False,
        if_better: bool = False,
        max_accuracy_drop: float = 0.01,
        test_limit: int | None = None,
        data: Iterable[Any] | None = None,
    ) -> CompressOutcome:
        """Quantize (``"dynamic"`` / ``"static"`` int8), prune (a share of the weights,
        ``structured`` channels / rows, ``finetune_epochs`` after) or distill (from the
        teacher ``distill_from`` into ``student_config``'s architecture, ``epochs``,
        ``temperature``, ``alpha``); ``all_techniques`` tries every one that applies. Each
        result becomes a version (with ``if_better``, only one smaller or faster than the
        parent losing at most ``max_accuracy_drop``), measured on up to ``test_limit`` test
        inputs (or ``data``); the outcome holds the table (``to_dict()``: the ``--json``
        document of ``neuroplast compress``)."""
        from neuroplast.compression.optimizer import ModelOptimizer

        return ModelOptimizer(self.registry, test_limit=test_limit).compress(
            model_id,
            quantize=quantize,
            prune=prune,
            structured=structured,
            finetune_epochs=finetune_epochs,
            distill_from=distill_from,
            student_config=student_config,
            epochs=epochs,
            all_techniques=all_techniques,
            temperature=temperature,
            alpha=alpha,
            if_better=if_better,
            max_accuracy_drop=max_accuracy_drop,
            data=data,
        )

    def export_onnx(
        self,
        model_id: str,
        *,
        int8: bool = False,
        output: str | Path | None = None,
        force: bool = False,
        measure: bool = True,
        if_better: bool = False,
        max_accuracy_drop: float = 0.01,
        fmt: str = "onnx",
        data: Iterable[Any] | None = None,
    ) -> ExportOutcome:
        """Export to ONNX (+ an ONNX Runtime int8 model with ``int8``) as a new version, and
        with ``output`` a torch-free serving folder (``force`` replaces an earlier export's
        files there); ``measure`` compares it with eager torch on the test split (or
        ``data``), ``if_better`` registers only a better one. ``to_dict()`` is the
        ``--json`` document of ``neuroplast export-onnx``. For a tar bundle of a version,
        see :meth:`export_bundle`."""
        from neuroplast.compression.export import export_version

        return export_version(
            self.registry,
            model_id,
            int8=int8,
            output=None if output is None else Path(output),
            measure=measure,
            fmt=fmt,
            if_better=if_better,
            max_accuracy_drop=max_accuracy_drop,
            force=force,
            data=data,
        )

    def bench(
        self,
        model_id: str,
        *,
        backend: str = "auto",
        inputs: int = 640,
        repeats: int = 5,
        threads: int | None = None,
        max_batch: int = 64,
        remeasure: bool = False,
    ) -> BenchReport:
        """Batch-1 latency and batch throughput of the Predictor on ``backend`` against
        eager fp32, on up to ``inputs`` test inputs (medians of ``repeats``); ``threads``
        for torch and ONNX Runtime; ``max_batch`` / ``remeasure`` for ``auto``."""
        from neuroplast.compression.bench import bench_registered

        return bench_registered(
            self.registry,
            model_id,
            backend=backend,
            inputs=inputs,
            repeats=repeats,
            threads=threads,
            max_batch=max_batch,
            remeasure=remeasure,
        )

    def explain(
        self,
        model_id: str,
        inputs: Sequence[str | Path] = (),
        *,
        method: str | None = None,
        target: str | None = None,
        faithfulness: bool = False,
        check_inputs: Sequence[str] = (),
        n: int = 200,
        deleted: int = 3,
        overlay: str | Path | None = None,
    ) -> ExplainReport:
        """Explain ``inputs`` (texts, or image files) with ``method`` for class ``target``
        (default: the predicted one); ``faithfulness`` checks each method on ``n`` inputs
        (``check_inputs`` texts, else the test split). ``overlay``: PNG heat maps of images.
        ``report.html()`` is the self-contained report (see :mod:`neuroplast.explain.run`)."""
        from neuroplast.explain.run import check_counts, explain_loaded

        check_counts(n, deleted)
        loaded = self.model_manager.get_loaded(model_id)
        meta = loaded.meta
        return explain_loaded(
            loaded,
            inputs,
            ref=f"{meta.name}:{meta.version}" if meta.name else model_id,
            method=method,
            target=target,
            faithfulness=faithfulness,
            check_inputs=check_inputs,
            n=n,
            deleted=deleted,
            overlay=None if overlay is None else Path(overlay),
        )

    # ---- continual learning ----------------------------------------------------------------
    def continual_run(
        self,
        config: ContinualConfig | str | Path,
        *,
        overrides: Sequence[str] = (),
        strategies: Sequence[str] | None = None,
        register: bool = True,
        name: str | None = None,
        on_run: Callable[[RunResult], None] | None = None,
    ) -> ContinualOutcome:
        """Train task by task on a stream config with ``strategies`` composed (default: the
        config's) over its seeds; with ``register``, register the first seed's model under
        ``name`` (default: the config's name, with the strategies when they differ)."""
        from neuroplast.continual.experiments import run_strategies

        registry = self.registry if register else None
        return run_strategies(
            config, registry, overrides=overrides, strategies=strategies, name=name, on_run=on_run
        )

    def continual_compare(
        self,
        config: ContinualConfig | str | Path,
        strategies: str | Sequence[Sequence[str]],
        *,
        overrides: Sequence[str] = (),
        on_run: Callable[[RunResult], None] | None = None,
    ) -> Comparison:
        """Several strategies (``"naive,replay,replay+lwf"`` or ``[["naive"], ...]``) on the
        same stream and seeds; nothing is registered."""
        from neuroplast.continual.experiments import compare_strategies
        from neuroplast.continual.workflow import parse_strategy_sets

        sets = parse_strategy_sets(strategies) if isinstance(strategies, str) else strategies
        return compare_strategies(config, sets, overrides=overrides, on_run=on_run)

    def continual_update(
        self,
        model_id: str,
        data: str | Path,
        *,
        strategies: Sequence[str] = ("replay",),
        buffer_size: int = 2000,
        allow_new_classes: bool = False,
        epochs: int | None = None,
        name: str | None = None,
        text_column: str = "text",
        label_column: str = "label",
    ) -> UpdateOutcome:
        """Teach a registered model the labelled ``data`` (a table or image folder) without
        forgetting, with ``strategies`` composed; register the new version (parent:
        ``model_id``). ``allow_new_classes`` adds output classes."""
        from neuroplast.continual.update import update_model

        return update_model(
            self.registry,
            model_id,
            data,
            strategies=list(strategies),
            buffer_size=buffer_size,
            allow_new_classes=allow_new_classes,
            epochs=epochs,
            name=name,
            text_column=text_column,
            label_column=label_column,
        )

    def continual_reproduce(
        self,
        protocol: str = "split-mnist",
        *,
        seeds: int = 3,
        epochs: int = 5,
        on_run: Callable[[str, RunResult], None] | None = None,
    ) -> ReproduceResult:
        """A published table (``split-mnist``: van de Ven & Tolias 2019, Table 4) over seeds
        0..``seeds``-1; nothing is registered."""
        from neuroplast.continual.reproduce import reproduce

        return reproduce(protocol, seeds=list(range(seeds)), epochs=epochs, on_run=on_run)

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

    def monitor(
        self,
        model_id: str,
        *,
        window: int = 500,
        since: datetime | None = None,
        reference: str = "heldout",
        alpha: float = 0.05,
        store: bool = True,
    ) -> MonitorReport:
        """Drift tests on the logged traffic of ``model_id`` (a name: its production
        version), window by window, against a sample of the version's ``reference`` split
        (heldout = val and test, val, test or train; stored on the version on first use).
        Needs the monitor extra.
        ``store``: keep the report in the registry (the dashboard shows the newest)."""
        from neuroplast.monitoring import monitor_traffic

        return monitor_traffic(
            self.registry,
            model_id,
            window=window,
            since=since,
            reference=reference,
            alpha=alpha,
            store=store,
        )

    def loop(
        self, model: str, policy: str | Path | LoopPolicy, *, dry_run: bool = False
    ) -> LoopReport:
        """One step of the closed loop on ``model`` under ``policy`` (a ``loop.yaml`` path or
        a :class:`~neuroplast.loop.LoopPolicy`): decide its running rollout, or check drift
        and feedback, train a candidate, gate it and roll it out. ``dry_run``: say what it
        would do and change nothing."""
        from neuroplast.loop import run_loop

        return run_loop(self.registry, model, policy, dry_run=dry_run)


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
