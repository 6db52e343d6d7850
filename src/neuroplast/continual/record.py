"""Register the model a continual run (or update) produced, as a ``source="continual"``
version: the model bundle, the strategies' state (Fisher information, anchors, replay
buffer) as one safetensors artifact, the metrics and the plots."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from neuroplast.continual.plots import plot_accuracy_curves, plot_accuracy_matrix
from neuroplast.continual.strategies import Plugin
from neuroplast.data import Vocabulary
from neuroplast.inference.bundle import ModelMeta
from neuroplast.registry import Registry, VersionRecord
from neuroplast.registry.artifacts import read_safetensors_verified
from neuroplast.workflows.register import reserve_version

__all__ = [
    "STATE_FILE",
    "load_plugin_state",
    "register_continual_version",
]

logger = logging.getLogger(__name__)
STATE_FILE = "continual/state.safetensors"


def _plugin_tensors(plugins: list[Plugin]) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for plugin in plugins:
        out.update({f"{plugin.name}/{k}": v for k, v in plugin.artifacts().items()})
    return out


def load_plugin_state(version: VersionRecord) -> dict[str, dict[str, Tensor]]:
    """Strategy name -> its stored tensors, verified against the recorded sha256."""
    record = version.artifacts.get(STATE_FILE)
    if record is None:
        return {}
    tensors = read_safetensors_verified(record.path, record.sha256)
    out: dict[str, dict[str, Tensor]] = {}
    for key, value in tensors.items():
        name, _, rest = key.partition("/")
        out.setdefault(name, {})[rest] = value
    return out


def register_continual_version(
    registry: Registry,
    *,
    name: str,
    architecture: str,
    task: str,
    model: nn.Module,
    arch_config: dict[str, Any],
    label_names: list[str],
    preprocessing: dict[str, Any],
    data: dict[str, Any],
    vocab: Vocabulary | None,
    plugins: list[Plugin],
    metrics: dict[str, Any],
    config: dict[str, Any],
    matrix: list[list[float]] | None = None,
    parent_id: int | None = None,
    run_id: int | None = None,
) -> tuple[VersionRecord, dict[str, Path]]:
    """Create, fill and finalize the version; returns it and its plot paths."""
    modality = "text" if vocab is not None else "image"
    meta = ModelMeta(
        architecture=architecture,
        modality=modality,
        task=task,
        arch_config=arch_config,
        label_names=label_names,
        preprocessing=preprocessing,
        data=data,
        name=name,
    )
    draft = reserve_version(
        registry, meta, config=config, source="continual", run_id=run_id, parent_id=parent_id
    )
    draft.save_model(model, vocab)
    tensors = _plugin_tensors(plugins)
    if tensors:
        draft.add_tensors(STATE_FILE, tensors)
    plots = _plots(draft.artifact_dir, matrix, f"{draft.record.ref}: {metrics.get('strategy', '')}")
    for key, p in plots.items():
        draft.add_file(f"plots/{p.name}", p)
        metrics = {**metrics, f"plot_{key}": str(p)}
    version = draft.finalize(model, metrics=metrics)
    logger.info("registered %s (continual, parent id %s)", version.ref, parent_id)
    return version, plots


def _plots(directory: Path, matrix: list[list[float]] | None, title: str) -> dict[str, Path]:
    """The accuracy matrix and curves (over two tasks at least) under ``plots/``."""
    if matrix is None or len(matrix) <= 1:
        return {}
    return {
        "accuracy_matrix": plot_accuracy_matrix(
            matrix, directory / "plots" / "accuracy_matrix.png", title
        ),
        "accuracy_curves": plot_accuracy_curves(
            matrix, directory / "plots" / "accuracy_curves.png", title
        ),
    }
