"""What a bundle says about its model (``model.json``) and the names of its files, readable
without torch. Shared by the registry (which checks imported bundles) and inference."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuroplast._version import ARTIFACT_SCHEMA_VERSION, __version__
from neuroplast.errors import ArtifactError

__all__ = ["META", "ONNX", "ONNX_INT8", "VOCAB", "WEIGHTS", "ModelMeta", "read_meta"]

WEIGHTS, META, VOCAB = "weights.safetensors", "model.json", "vocab.json"
ONNX, ONNX_INT8 = "model.onnx", "model.int8.onnx"


@dataclass(frozen=True)
class ModelMeta:
    """What a bundle says about its model (``model.json``)."""

    architecture: str
    modality: str
    task: str
    arch_config: dict[str, Any]
    label_names: list[str]
    preprocessing: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    version: int = 0
    #: How the weights are run after loading, e.g. ``{"quantization": "dynamic"}``.
    compression: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "neuroplast-model",
            "schema_version": ARTIFACT_SCHEMA_VERSION,
            "neuroplast_version": __version__,
            "name": self.name,
            "version": self.version,
            "architecture": self.architecture,
            "modality": self.modality,
            "task": self.task,
            "arch_config": self.arch_config,
            "label_names": self.label_names,
            "preprocessing": self.preprocessing,
            "data": self.data,
            "compression": self.compression,
        }

    @classmethod
    def from_json(cls, payload: Any, where: Path) -> ModelMeta:
        if not isinstance(payload, dict) or payload.get("format") != "neuroplast-model":
            raise ArtifactError(f"{where} is not a neuroplast model description")
        if int(payload.get("schema_version", 0)) > ARTIFACT_SCHEMA_VERSION:
            raise ArtifactError(
                f"{where} was written by a newer neuroplast ({payload.get('neuroplast_version')}); "
                "upgrade neuroplast to load it"
            )
        keys = ("architecture", "modality", "task", "arch_config", "label_names", "preprocessing")
        missing = [k for k in keys if k not in payload]
        if missing:
            raise ArtifactError(f"{where} lacks {', '.join(missing)}")
        return cls(
            **{k: payload[k] for k in keys},
            data=payload.get("data", {}),
            name=payload.get("name", ""),
            version=int(payload.get("version", 0)),
            compression=dict(payload.get("compression") or {}),
        )


def read_meta(path: Path) -> ModelMeta:
    """Read ``model.json`` (no hash check: :func:`~neuroplast.inference.load_bundle` does that)."""
    if not path.is_file():
        raise ArtifactError(f"{path} is missing; the model folder is incomplete (re-export it)")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{path} is not valid JSON: {e}") from e
    return ModelMeta.from_json(payload, path)
