"""Registering what compression makes: a new version whose parent is the version it came from.

Every technique writes a full bundle (safetensors weights + ``model.json`` + vocabulary), so
the new version loads like any other, plus any extra files (ONNX models, the comparison
table as ``compression.json``). The technique and its options go in the version's config;
the table's numbers go in its metrics.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from torch import nn

from neuroplast.inference.bundle import LoadedModel
from neuroplast.registry import Registry, VersionRecord
from neuroplast.workflows.register import reserve_version

__all__ = ["TABLE_FILE", "register_derived"]

logger = logging.getLogger(__name__)

TABLE_FILE = "compression.json"


def register_derived(
    registry: Registry,
    parent: VersionRecord,
    loaded: LoadedModel,
    *,
    model: nn.Module,
    technique: str,
    options: dict[str, Any],
    source: str = "compress",
    extra_files: dict[str, bytes] | None = None,
    table: list[dict[str, Any]] | None = None,
    metrics: dict[str, Any] | None = None,
    arch_config: dict[str, Any] | None = None,
    name: str | None = None,
    meta_compression: dict[str, Any] | None = None,
) -> VersionRecord:
    """The next version of ``name`` (default: the parent's model) holding ``model``
    (fp32 weights) and ``extra_files``; ``parent_id`` is ``parent.id``."""
    target = name or parent.model_name
    meta = replace(
        loaded.meta,
        name=target,
        arch_config=dict(arch_config or loaded.meta.arch_config),
        compression=dict(meta_compression or {}),
    )
    compression = {"technique": technique, "parent": parent.ref, "parent_uid": parent.uid}
    draft = reserve_version(
        registry,
        meta,
        config={**parent.config, "compression": {**compression, **options}},
        source=source,
        parent_id=parent.id,
    )
    draft.save_model(model, loaded.vocab)
    for file_name, data in (extra_files or {}).items():
        draft.add_bytes(file_name, data)
    summary = {"technique": technique, "parent": parent.ref, **(metrics or {})}
    if table is not None:
        draft.add_json(TABLE_FILE, {"technique": technique, "parent": parent.ref, "rows": table})
    if table:
        summary["compression_table"] = table
    record = draft.finalize(model, metrics=summary)
    logger.info("registered %s (%s of %s)", record.ref, technique, parent.ref)
    return record
