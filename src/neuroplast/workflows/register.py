"""The one way a torch model becomes a registry version.

``create_version`` reserves a draft (with a lease, so that ``registry gc`` leaves it alone
while it is filled), the bundle and any extra files are written into its artifact
directory, and ``finalize_version`` records them and marks the version ready::

    draft = reserve_version(registry, meta, config=config, run_id=run.id)
    draft.save_model(model, vocab)
    draft.add_json("compression.json", table)
    version = draft.finalize(model, metrics=summary)

Every registration (training, continual runs and updates, compression, the Python API's
``create_model`` / ``save_model``) goes through here. Nothing here catches an error: a
registration that fails part-way leaves its draft for ``registry gc`` (or for
``train --resume``, which discards the drafts of the run it takes over).

It lives in ``workflows/`` because it saves torch models: ``registry/`` imports no torch
model code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from neuroplast.data import Vocabulary
from neuroplast.data.prepare import IMAGE_MEAN, IMAGE_STD
from neuroplast.inference.bundle import ModelMeta, save_bundle
from neuroplast.models import count_parameters
from neuroplast.registry import Registry, RunRecord, VersionRecord
from neuroplast.registry.artifacts import (
    atomic_write_bytes,
    atomic_write_json,
    save_safetensors,
    sha256_file,
)

__all__ = ["Draft", "bundle_preprocessing", "marking_failures", "reserve_version"]

Files = dict[str, tuple[Path, str]]


def bundle_preprocessing(
    modality: str,
    *,
    max_length: int | None = None,
    min_length: int = 1,
    image_shape: tuple[int, ...] | list[int] | None = None,
) -> dict[str, Any]:
    """``model.json``'s ``preprocessing``: what ``predict`` needs to shape inputs like training
    did (token lengths for text; the normalisation and, when known, the shape of images)."""
    if modality == "text":
        return {"max_length": max_length, "min_length": min_length}
    out: dict[str, Any] = {"mean": IMAGE_MEAN, "std": IMAGE_STD}
    if image_shape is not None:
        out["image_shape"] = list(image_shape)
    return out


@dataclass
class Draft:
    """A reserved version being filled: its record, its ``model.json`` and the files so far."""

    registry: Registry
    record: VersionRecord
    meta: ModelMeta
    files: Files = field(default_factory=dict)

    @property
    def artifact_dir(self) -> Path:
        return Path(self.record.artifact_dir)

    def save_model(self, model: nn.Module, vocab: Vocabulary | None) -> None:
        """The bundle: safetensors weights, ``model.json`` and the vocabulary."""
        self.files.update(save_bundle(self.artifact_dir, model, self.meta, vocab))

    def add_bytes(self, name: str, data: bytes) -> None:
        path = self.artifact_dir / name
        self.files[name] = (path, atomic_write_bytes(path, data))

    def add_json(self, name: str, payload: Any) -> None:
        path = self.artifact_dir / name
        self.files[name] = (path, atomic_write_json(path, payload))

    def add_tensors(self, name: str, tensors: dict[str, Tensor]) -> None:
        path = self.artifact_dir / name
        self.files[name] = (path, save_safetensors(path, tensors))

    def add_file(self, name: str, path: Path) -> None:
        """A file already written (a plot) under the artifact directory."""
        self.files[name] = (path, sha256_file(path))

    def finalize(
        self, model: nn.Module, *, metrics: dict[str, Any], run_id: int | None = None
    ) -> VersionRecord:
        """Record the files and mark the version ready."""
        return self.registry.finalize_version(
            self.record.id,
            files=self.files,
            params_count=count_parameters(model),
            metrics=metrics,
            run_id=run_id,
        )


def reserve_version(
    registry: Registry,
    meta: ModelMeta,
    *,
    config: dict[str, Any],
    source: str = "train",
    run_id: int | None = None,
    parent_id: int | None = None,
) -> Draft:
    """Reserve the next version of ``meta.name``; the draft's meta carries its number."""
    record = registry.create_version(
        meta.name,
        architecture=meta.architecture,
        task=meta.task,
        modality=meta.modality,
        config=config,
        source=source,
        run_id=run_id,
        parent_id=parent_id,
    )
    return Draft(registry, record, replace(meta, version=record.version))


@contextmanager
def marking_failures(registry: Registry, run: RunRecord) -> Iterator[None]:
    """Mark the run interrupted (Ctrl-C) or failed (with its error) when the block raises."""
    try:
        yield
    except KeyboardInterrupt:
        registry.update_run(run.id, status="interrupted", error="interrupted by the user")
        raise
    except Exception as e:
        registry.update_run(run.id, status="failed", error=f"{type(e).__name__}: {e}")
        raise
