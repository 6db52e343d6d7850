"""A model bundle: safetensors weights + JSON (config, labels, preprocessing, vocabulary).

``save_bundle`` writes the files atomically and returns their sha256; ``load_bundle``
verifies every file against the expected hashes before building the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from neuroplast._version import ARTIFACT_SCHEMA_VERSION, __version__
from neuroplast.data import Vocabulary
from neuroplast.errors import ArtifactError
from neuroplast.models import count_parameters, create_model
from neuroplast.registry.artifacts import (
    atomic_write_json,
    read_json_verified,
    read_safetensors_verified,
    save_safetensors,
)

__all__ = ["BUNDLE_FILES", "LoadedModel", "ModelMeta", "load_bundle", "save_bundle"]

WEIGHTS, META, VOCAB = "weights.safetensors", "model.json", "vocab.json"
BUNDLE_FILES = (WEIGHTS, META, VOCAB)


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
        )


@dataclass
class LoadedModel:
    """A ready-to-run model with everything needed to preprocess its inputs."""

    model: nn.Module
    meta: ModelMeta
    vocab: Vocabulary | None

    @property
    def params_count(self) -> int:
        return count_parameters(self.model)


def save_bundle(
    directory: Path, model: nn.Module, meta: ModelMeta, vocab: Vocabulary | None
) -> dict[str, tuple[Path, str]]:
    """Write the bundle into ``directory``; returns name -> (path, sha256)."""
    files: dict[str, tuple[Path, str]] = {}
    weights = directory / WEIGHTS
    files[WEIGHTS] = (
        weights,
        save_safetensors(weights, model.state_dict(), metadata={"architecture": meta.architecture}),
    )
    if vocab is not None:
        files[VOCAB] = (directory / VOCAB, atomic_write_json(directory / VOCAB, vocab.to_dict()))
    files[META] = (directory / META, atomic_write_json(directory / META, meta.to_json()))
    return files


def load_bundle(directory: Path, hashes: dict[str, str] | None = None) -> LoadedModel:
    """Build the model of a bundle; with ``hashes`` (name -> sha256) every file is verified."""
    hashes = hashes or {}
    if hashes and WEIGHTS not in hashes:
        raise ArtifactError(f"the registry lists no weights for {directory}; re-train the model")
    meta = ModelMeta.from_json(
        read_json_verified(directory / META, hashes.get(META)), directory / META
    )
    vocab = None
    has_vocab = VOCAB in hashes if hashes else (directory / VOCAB).is_file()
    if meta.modality == "text" and has_vocab:
        vocab = Vocabulary.from_dict(read_json_verified(directory / VOCAB, hashes.get(VOCAB)))
    model = create_model(meta.architecture, meta.arch_config)
    state = read_safetensors_verified(directory / WEIGHTS, hashes.get(WEIGHTS))
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ArtifactError(f"{directory / WEIGHTS} does not fit a {meta.architecture}: {e}") from e
    model.eval()
    return LoadedModel(model=model, meta=meta, vocab=vocab)
