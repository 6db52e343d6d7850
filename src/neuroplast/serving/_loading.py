"""Loading one registered version for serving: its Predictor on the chosen backend, warmed.

ONNX backends go through the torch-free portable path (``inference.portable``), after
``ensure_onnx`` has stored a missing graph in the registry (torch is imported only then);
the torch backends and ``auto`` through ``registered_predictor``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from neuroplast.errors import ArtifactError, ConfigError, DataError, RegistryError
from neuroplast.serving._task_kinds import CLASSIFIER, TaskModel
from neuroplast.serving.batcher import Batcher

if TYPE_CHECKING:
    from neuroplast.inference.base import BasePredictor
    from neuroplast.registry import Registry

__all__ = [
    "InputSpec",
    "ServedVersion",
    "check_inputs",
    "check_serve_backend",
    "input_spec",
    "load_predictor",
    "load_task_served",
    "load_version",
    "serve_backends",
    "warm",
]

logger = logging.getLogger(__name__)


def serve_backends() -> tuple[str, ...]:
    """What ``--backend`` takes: ``auto`` and every registered Predictor backend (the
    backend registry is read without importing torch)."""
    from neuroplast.inference import list_backends

    return tuple(list_backends())


def check_serve_backend(backend: str) -> str:
    from neuroplast.inference import check_backend

    return check_backend(backend)


def _onnx_graph(backend: str) -> str | None:
    """``"fp32"`` / ``"int8"``: the stored ONNX graph ``backend`` runs; None for the others."""
    if backend == "auto":
        return None
    from neuroplast.inference import get_backend

    return get_backend(backend).onnx


def _onnx_predictor(
    registry: Registry, ref: str, *, int8: bool, max_batch: int, threads: int | None
) -> BasePredictor:
    """ONNX Runtime on the version's stored graph, torch-free; a version without the graph
    gets it from ``ensure_onnx`` first (which imports torch to export, once)."""
    from neuroplast.inference.meta import ONNX, ONNX_INT8
    from neuroplast.inference.portable import onnx_predictor

    version = registry.resolve(ref)
    if (ONNX_INT8 if int8 else ONNX) not in version.artifacts:
        from neuroplast.workflows.serving_artifacts import ensure_onnx

        logger.info("%s has no ONNX graph yet: exporting it and storing it in the registry", ref)
        version = ensure_onnx(registry, version, int8=int8)
    return onnx_predictor(registry, version, int8=int8, threads=threads, batch_size=max_batch)


def load_predictor(
    registry: Registry, ref: str, *, backend: str, max_batch: int, threads: int | None
) -> BasePredictor:
    """The Predictor of version ``ref`` on ``backend``: the ONNX backends torch-free (a
    version that cannot have a graph, a statically quantized one or one missing its graph
    in a read-only registry, is served on torch, with a warning); the others through
    :func:`~neuroplast.inference.registered_predictor`."""
    graph = _onnx_graph(backend)
    if graph is not None:
        try:
            return _onnx_predictor(
                registry, ref, int8=graph == "int8", max_batch=max_batch, threads=threads
            )
        except ArtifactError:  # a damaged file is an error, not a reason to change backend
            raise
        except (ConfigError, RegistryError) as e:
            logger.warning("%s cannot run on %s (%s); serving it on torch", ref, backend, e)
            backend = "torch"
    from neuroplast.inference import registered_predictor

    return registered_predictor(
        registry, ref, backend=backend, threads=threads, batch_size=max_batch, max_batch=max_batch
    )


@dataclass(frozen=True)
class InputSpec:
    """What a model takes: texts (cut to ``max_length`` tokens) or uint8 images
    ``[channels, size, size]``."""

    modality: str
    max_length: int | None = None
    channels: int | None = None
    size: int | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.modality == "text":
            return {"modality": "text", "max_length": self.max_length}
        return {"modality": "image", "channels": self.channels, "size": self.size}


def input_spec(predictor: BasePredictor) -> InputSpec:
    meta = predictor.meta
    if meta.modality == "text":
        return InputSpec("text", max_length=predictor.max_length)
    shape = meta.preprocessing.get("image_shape")
    if shape:
        channels, size = int(shape[0]), int(shape[1])
    else:
        channels = int(meta.arch_config.get("in_channels", 1))
        size = int(meta.arch_config.get("image_size", 28))
    return InputSpec("image", channels=channels, size=size)


def check_inputs(
    spec: InputSpec, inputs: str | Sequence[str] | np.ndarray
) -> list[str] | list[np.ndarray]:
    """The inputs of one request, one item each, checked against ``spec`` (a
    :class:`DataError` saying which input is wrong and what was expected)."""
    if spec.modality == "text":
        if isinstance(inputs, np.ndarray):
            raise DataError("this is a text model: send texts, not images")
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        if not texts:
            raise DataError("no inputs: send one text or a list of texts")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise DataError(f"input {i + 1} is a {type(text).__name__}, not a text")
            if not text.strip():
                raise DataError(f"input {i + 1} is an empty text; give each input some words")
        return texts
    if isinstance(inputs, str) or not isinstance(inputs, np.ndarray):
        raise DataError("this is an image model: send images (PNG/JPEG uploads), not texts")
    images = inputs
    if images.ndim == 3 and spec.channels == 1:
        images = images[:, None]
    expected = (spec.channels, spec.size, spec.size)
    if images.ndim != 4 or tuple(images.shape[1:]) != expected:
        raise DataError(
            f"images must be uint8 [N, {spec.channels}, {spec.size}, {spec.size}] for this "
            f"model, got shape {list(images.shape)}"
        )
    if images.dtype != np.uint8:
        raise DataError(f"images must be uint8 pixels 0-255, got dtype {images.dtype}")
    if len(images) == 0:
        raise DataError("no inputs: send at least one image")
    return list(images)


def warm(predictor: BasePredictor, spec: InputSpec, size: int) -> None:
    """Run one batch of ``size`` inputs, so the first request does not pay for the first
    run (ONNX Runtime's allocations, torch's lazy initialisation)."""
    if spec.modality == "text":
        predictor.predict_proba(["a warm up text for the model"] * size)
    else:
        shape = (size, spec.channels or 1, spec.size or 28, spec.size or 28)
        predictor.predict_proba(np.zeros(shape, dtype=np.uint8))


@dataclass
class ServedVersion:
    """One loaded version of ``model``: its warmed Predictor (or, for the other kinds of
    model, its :class:`~neuroplast.serving._task_kinds.TaskModel`) and its batcher."""

    ref: str
    model: str
    predictor: BasePredictor | TaskModel
    spec: InputSpec
    batcher: Batcher[Any, Any]

    @property
    def backend(self) -> str:
        return str(self.predictor.backend)

    @property
    def task(self) -> str:
        """The serving kind: ``classification``, ``neuromorphic``, ``anomaly_detection``,
        ``forecasting`` or ``generation``."""
        return self.predictor.task if isinstance(self.predictor, TaskModel) else CLASSIFIER

    @property
    def label_names(self) -> list[str]:
        return list(self.predictor.label_names)


def load_version(
    registry: Registry,
    model: str,
    ref: str,
    *,
    backend: str,
    threads: int | None,
    warm_up: bool,
    batching: tuple[int, float, int],
    on_batch: Callable[[int, float], None] | None = None,
) -> ServedVersion:
    """Version ``ref`` of ``model`` loaded, warmed with one batch of ``max_batch`` inputs, and
    behind a batcher of ``batching = (max_batch, max_wait_ms, max_queue)``."""
    max_batch, max_wait_ms, max_queue = batching
    predictor = load_predictor(registry, ref, backend=backend, max_batch=max_batch, threads=threads)
    spec = input_spec(predictor)
    if warm_up:
        warm(predictor, spec, max_batch)
    stack = spec.modality != "text"

    def run(items: list[Any]) -> list[np.ndarray]:
        return list(predictor.predict_proba(np.stack(items) if stack else items))

    batcher: Batcher[Any, np.ndarray] = Batcher(
        run, max_batch, max_wait_ms, max_queue, on_batch, name=ref
    )
    logger.info("serving %s on %s", ref, predictor.backend)
    return ServedVersion(ref, model, predictor, spec, batcher)


def load_task_served(
    registry: Registry,
    model: str,
    ref: str,
    kind: str,
    *,
    batching: tuple[int, float, int],
    on_batch: Callable[[int, float], None] | None = None,
) -> ServedVersion:
    """Version ``ref`` of serving kind ``kind`` (not a classifier) behind a batcher; its
    model caps the batch (a language model generates for one prompt at a time)."""
    from neuroplast.serving._task_models import load_task_model

    task_model = load_task_model(registry, ref, kind)
    max_batch, max_wait_ms, max_queue = batching
    if task_model.max_batch is not None:
        max_batch = min(max_batch, task_model.max_batch)
    batcher: Batcher[Any, Any] = Batcher(
        task_model.run, max_batch, max_wait_ms, max_queue, on_batch, name=ref
    )
    logger.info("serving %s (%s) on torch", ref, kind)
    return ServedVersion(ref, model, task_model, task_model.spec, batcher)
