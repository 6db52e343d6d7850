"""A model bundle: safetensors weights + JSON (config, labels, preprocessing, vocabulary).

``save_bundle`` writes the files atomically and returns their sha256; ``load_bundle``
verifies every file against the expected hashes before building the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from neuroplast.errors import ArtifactError
from neuroplast.inference.meta import META, VOCAB, WEIGHTS, ModelMeta
from neuroplast.models import count_parameters, create_model
from neuroplast.registry.artifacts import (
    atomic_write_json,
    read_json_verified,
    read_safetensors_verified,
    save_safetensors,
)
from neuroplast.tokens import Vocabulary

__all__ = ["BUNDLE_FILES", "LoadedModel", "ModelMeta", "load_bundle", "save_bundle"]

BUNDLE_FILES = (WEIGHTS, META, VOCAB)


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
