"""A task's model as a registry version, and back.

A version holds the usual bundle (``weights.safetensors`` + ``model.json``), the task's
state in ``task.json`` (scaling, threshold, columns, windows: what ``predict`` needs to
shape inputs like training did), plots, and ``model.onnx`` where the architecture exports.
Reading verifies every file against the hashes the registry recorded.
"""

from __future__ import annotations

import io
import logging
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import Tensor, nn

from neuroplast.config import RunConfig
from neuroplast.errors import ArtifactError, ConfigError
from neuroplast.inference.bundle import ModelMeta
from neuroplast.inference.onnx_export import OPSET
from neuroplast.model_meta import META, ONNX, WEIGHTS
from neuroplast.registry import Registry, RunRecord, VersionRecord
from neuroplast.registry.artifacts import read_json_verified, read_safetensors_verified
from neuroplast.types import ModelMetrics
from neuroplast.workflows.register import marking_failures, reserve_version

__all__ = [
    "API_DATA",
    "API_SOURCE",
    "TASK_STATE",
    "StoredTask",
    "api_data",
    "export_onnx",
    "load_task_version",
    "register_task_version",
    "task_factory",
    "training_run",
]

logger = logging.getLogger(__name__)
TASK_STATE = "task.json"
#: ``data.path`` of a version trained by ``create_and_train_model`` on the caller's tensors,
#: whose held-out part (and a sample of the training inputs) the version keeps in API_DATA.
API_SOURCE, API_DATA = "<python api>", "api_data.safetensors"


@dataclass
class StoredTask:
    """A task version read back: its record, ``model.json``, ``task.json`` and weights."""

    version: VersionRecord
    meta: ModelMeta
    state: dict[str, Any]
    weights: dict[str, Tensor]

    def build(self, factory: Callable[[str, dict[str, Any]], nn.Module]) -> nn.Module:
        """The model, built by ``factory(architecture, arch_config)`` with the stored weights."""
        model = factory(self.meta.architecture, self.meta.arch_config)
        try:
            model.load_state_dict(self.weights)
        except RuntimeError as e:
            raise ArtifactError(
                f"{self.version.ref}: the weights do not fit a {self.meta.architecture}: {e}"
            ) from e
        if self.meta.compression.get("quantization") == "dynamic":  # `compress --quantize`
            from neuroplast.inference.quantize import dynamic_int8

            return dynamic_int8(model).eval()
        return model.eval()


@contextmanager
def training_run(
    registry: Registry, config: RunConfig, on_epoch: Callable[[ModelMetrics], None] | None
) -> Iterator[tuple[RunRecord, Callable[[ModelMetrics], None]]]:
    """A registry run for the block (kept alive by its heartbeat) and the epoch callback that
    logs into it; marked failed (with the error) or interrupted when the block raises."""
    registry.check_kind(config.name, config.task.value if config.task else None)
    run = registry.start_run(config.name, config.model_dump(mode="json"))

    def record(metrics: ModelMetrics) -> None:
        registry.log_epoch(run.id, metrics)
        if on_epoch is not None:
            on_epoch(metrics)

    with registry.heartbeat(run.id), marking_failures(registry, run):
        yield run, record
    registry.complete_run(run.id)


def export_onnx(model: nn.Module, example: Tensor, *, dynamic: dict[int, str]) -> bytes:
    """The ONNX graph (fp32, input ``input``, output ``output``) of ``model``."""
    axes = {"input": dynamic, "output": {0: "batch"}}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        try:
            torch.onnx.export(
                model.cpu().eval(),
                (example,),
                cast(Any, buffer),
                dynamo=False,
                opset_version=OPSET,
                input_names=["input"],
                output_names=["output"],
                dynamic_axes=cast(Any, axes),
                do_constant_folding=True,
            )
        except Exception as e:  # the exporter raises many unrelated types
            raise ArtifactError(f"cannot export {type(model).__name__} to ONNX: {e}") from e
    return buffer.getvalue()


def register_task_version(
    registry: Registry,
    config: RunConfig,
    *,
    run: RunRecord,
    meta: ModelMeta,
    model: nn.Module,
    state: dict[str, Any],
    metrics: dict[str, Any],
    plots: dict[str, Path] | None = None,
    onnx: tuple[nn.Module, Tensor, dict[int, str]] | None = None,
    tensors: dict[str, Tensor] | None = None,
) -> VersionRecord:
    """Write the model, ``task.json``, the plots and ``model.onnx`` as a new version of
    ``config.name``. ``onnx`` is (the module to export: the model or a wrapper around it,
    an example input, the input's dynamic axes); ``tensors`` the data a Python-API version
    is evaluated on (:data:`API_DATA`)."""
    draft = reserve_version(registry, meta, config=config.model_dump(mode="json"), run_id=run.id)
    draft.save_model(model, None)
    draft.add_json(TASK_STATE, {"format": "neuroplast-task", "task": meta.task, **state})
    if tensors:
        draft.add_tensors(API_DATA, {k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    if onnx is not None:
        started = time.perf_counter()
        draft.add_bytes(ONNX, export_onnx(onnx[0], onnx[1], dynamic=onnx[2]))
        logger.info("ONNX export of %s: %.1f s", meta.architecture, time.perf_counter() - started)
    for name, path in (plots or {}).items():
        target = draft.artifact_dir / "plots" / f"{name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if path != target:
            target.write_bytes(path.read_bytes())
        draft.add_file(f"plots/{name}.png", target)
    return draft.finalize(model, metrics=metrics)


def load_task_version(registry: Registry, model: str, task: str) -> StoredTask:
    """The version ``model`` of task ``task``, every file checked against its recorded hash."""
    version = registry.ensure_local(registry.resolve(model))
    if version.task != task:
        raise ConfigError(
            f"{version.ref} is a {version.task} model, not {task}; use a model trained with "
            f"task: {task}"
        )
    files = version.artifacts
    for name in (META, WEIGHTS, TASK_STATE):
        if name not in files:
            raise ArtifactError(f"{version.ref} lacks {name}; re-train it")
    meta_path = files[META].path
    meta = ModelMeta.from_json(read_json_verified(meta_path, files[META].sha256), meta_path)
    state = read_json_verified(files[TASK_STATE].path, files[TASK_STATE].sha256)
    if not isinstance(state, dict) or state.get("format") != "neuroplast-task":
        raise ArtifactError(f"{version.ref}: {TASK_STATE} is not a neuroplast task state")
    weights = read_safetensors_verified(files[WEIGHTS].path, files[WEIGHTS].sha256)
    return StoredTask(version, meta, state, weights)


def api_data(stored: StoredTask) -> dict[str, Tensor] | None:
    """The held-out tensors of a version trained on the caller's loaders (None for a
    version trained from a config); hash-checked."""
    if stored.version.config.get("data", {}).get("path") != API_SOURCE:
        return None
    artifact = stored.version.artifacts.get(API_DATA)
    if artifact is None:
        raise ConfigError(
            f"{stored.version.ref} was trained on Python loaders before versions kept their "
            "held-out data; evaluate it with --data FILE"
        )
    return read_safetensors_verified(artifact.path, artifact.sha256)


def task_factory(task: str) -> Callable[[str, dict[str, Any]], nn.Module]:
    """The model factory of anomaly detection or forecasting (``build_model``)."""
    if task == "anomaly_detection":
        from neuroplast.tasks.anomaly.models import build_model
    elif task == "forecasting":
        from neuroplast.tasks.forecasting.models import build_model
    else:
        raise ConfigError(f"task {task!r} stores no task.json model (anomaly / forecasting)")
    return build_model


def onnx_path(stored: StoredTask) -> Path | None:
    """Where the version's ONNX graph is, if it has one (hash-checked by the caller's read)."""
    artifact = stored.version.artifacts.get(ONNX)
    return None if artifact is None else artifact.path
