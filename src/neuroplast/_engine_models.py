"""The Engine's verbs on registered models: compression, ONNX export, speed, explanations
and continual learning.

A mixin of the Engine (see :mod:`neuroplast._engine_base`); it holds no logic of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neuroplast.compression.bench import BenchReport
    from neuroplast.compression.export import ExportOutcome
    from neuroplast.compression.optimizer import CompressOutcome
    from neuroplast.continual.config import ContinualConfig
    from neuroplast.continual.experiments import Comparison
    from neuroplast.continual.reproduce import ReproduceResult
    from neuroplast.continual.runner import RunResult
    from neuroplast.continual.update import UpdateOutcome
    from neuroplast.continual.workflow import ContinualOutcome
    from neuroplast.explain.run import ExplainReport
    from neuroplast.tasks import TaskResult

from neuroplast._engine_base import EngineServices
from neuroplast.errors import ConfigError

__all__ = ["ModelVerbs"]


class ModelVerbs(EngineServices):
    """Compression, ONNX export, speed, explanations and continual learning, by model id."""

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
    ) -> CompressOutcome | TaskResult:
        """Quantize (``"dynamic"`` / ``"static"`` int8), prune (a share of the weights,
        ``structured`` channels / rows, ``finetune_epochs`` after) or distill (from the
        teacher ``distill_from`` into ``student_config``'s architecture, ``epochs``,
        ``temperature``, ``alpha``); ``all_techniques`` tries every one that applies. Each
        result becomes a version (with ``if_better``, only one smaller or faster than the
        parent losing at most ``max_accuracy_drop``), measured on up to ``test_limit`` test
        inputs (or ``data``); the outcome holds the table (``to_dict()``: the ``--json``
        document of ``neuroplast compress``).

        An anomaly detection, forecasting or generation version takes ``quantize="dynamic"``
        only and returns a :class:`~neuroplast.tasks.TaskResult` judged by the task's metric
        (:mod:`neuroplast.tasks.features`); other techniques raise ConfigError."""
        from neuroplast.compression.optimizer import ModelOptimizer
        from neuroplast.tasks.features import check_feature, compress_task, is_task_version

        version = self.registry.resolve(model_id)
        if is_task_version(version):
            check_feature(
                "compress",
                version,
                quantize=quantize,
                prune=prune,
                structured=structured,
                finetune_epochs=finetune_epochs,
                distill_from=distill_from,
                student_config=student_config,
                all_techniques=all_techniques,
                if_better=if_better,
                data=data,
            )
            return compress_task(self.registry, version.ref, quantize=quantize)

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
    ) -> ExportOutcome | TaskResult:
        """Export to ONNX (+ an ONNX Runtime int8 model with ``int8``) as a new version, and
        with ``output`` a torch-free serving folder (``force`` replaces an earlier export's
        files there); ``measure`` compares it with eager torch on the test split (or
        ``data``), ``if_better`` registers only a better one. ``to_dict()`` is the
        ``--json`` document of ``neuroplast export-onnx``. For a tar bundle of a version,
        see :meth:`export_bundle`.

        An anomaly detection, forecasting or GPT version already holds its ONNX graph: the
        result (a :class:`~neuroplast.tasks.TaskResult`) compares it in ONNX Runtime with
        PyTorch on the version's held-out data by the task's metric, registers nothing and
        with ``output`` writes a serving folder (:mod:`neuroplast.tasks.features`)."""
        from neuroplast.compression.export import export_version
        from neuroplast.tasks.features import export_task, is_task_version

        version = self.registry.resolve(model_id)
        if is_task_version(version):
            if fmt != "onnx" or if_better or data is not None:
                raise ConfigError(
                    f"{version.ref} is a {version.task} model: export-onnx takes --int8, "
                    "--output and --force for it (no --if-better, --format or data)"
                )
            return export_task(
                self.registry,
                version.ref,
                int8=int8,
                output=None if output is None else Path(output),
                force=force,
            )

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
        from neuroplast.tasks.features import check_feature

        check_feature("explain", self.registry.resolve(model_id))
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
        from neuroplast.tasks.features import check_feature

        check_feature("continual update", self.registry.resolve(model_id))
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
