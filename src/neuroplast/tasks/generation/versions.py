"""A language model as a registry version: safetensors weights, ``model.json``, the
tokenizer's JSON and (GPT) the ONNX decoder step; loading verifies every file's hash."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from neuroplast.errors import ArtifactError, ConfigError
from neuroplast.inference.meta import META, WEIGHTS, ModelMeta
from neuroplast.registry import Registry, VersionRecord
from neuroplast.registry.artifacts import read_json_verified, read_safetensors_verified
from neuroplast.tasks.generation.config import GenerationConfig
from neuroplast.tasks.generation.models import create_lm
from neuroplast.tasks.generation.tokenizer import tokenizer_from_json

if TYPE_CHECKING:
    from neuroplast.workflows.register import Draft

__all__ = ["ONNX_STEP", "TOKENIZER", "LoadedLM", "load_lm", "write_lm"]

logger = logging.getLogger(__name__)
TOKENIZER, ONNX_STEP = "tokenizer.json", "decoder_step.onnx"
TASK = "generation"


@dataclass
class LoadedLM:
    """A registered language model, ready to score or generate."""

    version: VersionRecord
    meta: ModelMeta
    model: nn.Module
    tokenizer: Any
    generation: GenerationConfig

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.meta.data.get("data", {}))

    @property
    def context(self) -> int:
        return int(self.meta.preprocessing["context"])


def write_lm(draft: Draft, model: nn.Module, tokenizer: Any, *, onnx: bool) -> str | None:
    """Fill ``draft`` with the model's files; returns why the ONNX step is missing (or None)."""
    draft.add_tensors(WEIGHTS, dict(model.state_dict()))
    draft.add_json(TOKENIZER, tokenizer.to_json())
    draft.add_json(META, draft.meta.to_json())
    if not onnx:
        return "generation.export_onnx is false"
    if draft.meta.architecture != "gpt":
        return f"{draft.meta.architecture} has no ONNX decoder step (the gpt has)"
    from neuroplast.tasks.generation.onnx_step import export_decoder_step

    draft.add_bytes(ONNX_STEP, export_decoder_step(model))
    return None


def _artifact(version: VersionRecord, name: str) -> tuple[Path, str]:
    artifact = version.artifacts.get(name)
    if artifact is None:
        raise ArtifactError(
            f"{version.ref} lacks {name}; it is not a complete language model (re-train it)"
        )
    return artifact.path, artifact.sha256


def load_lm(registry: Registry, ref: str) -> LoadedLM:
    """Load the generation version ``ref`` (every file checked against its sha256)."""
    version = registry.ensure_local(registry.resolve(ref))
    if version.task != TASK:
        raise ConfigError(
            f"{version.ref} is a {version.task} model, not a language model (task: generation)"
        )
    meta = ModelMeta.from_json(read_json_verified(*_artifact(version, META)), version.artifact_dir)
    tokenizer = tokenizer_from_json(read_json_verified(*_artifact(version, TOKENIZER)))
    model = create_lm(meta.architecture, meta.arch_config)
    state = read_safetensors_verified(*_artifact(version, WEIGHTS))
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ArtifactError(
            f"{version.ref}: the weights do not fit a {meta.architecture}: {e}"
        ) from e
    if meta.compression.get("quantization") == "dynamic":  # `compress --quantize dynamic`
        from neuroplast.inference.quantize import dynamic_int8

        model = dynamic_int8(model)
    model.eval()
    generation = GenerationConfig.model_validate(meta.data.get("generation", {}))
    return LoadedLM(version, meta, model, tokenizer, generation)
