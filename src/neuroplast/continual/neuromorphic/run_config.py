"""The YAML of ``neuroplast neuro train``: a task stream (``continual``'s ``stream:``
section), the learner's four parts under seed 003's section names (``concept_encoder``,
``prototype_manager``, ``snn``, ``composer``), the training settings and the seed's
``distributed`` section. Unknown keys are rejected."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from neuroplast.config import apply_overrides, format_validation_error
from neuroplast.continual.config import StreamConfig
from neuroplast.continual.neuromorphic.config import (
    ComposerConfig,
    ConceptEncoderConfig,
    PrototypeManagerConfig,
    SNNConfig,
)
from neuroplast.errors import ConfigError

__all__ = [
    "TEMPLATES",
    "DistributedConfig",
    "NeuroRunConfig",
    "NeuroTrainConfig",
    "load_neuro_config",
    "parse_neuro_config",
    "template_text",
]

#: ``neuro init --template`` names -> the file under ``neuroplast/templates``.
TEMPLATES = {"text": "neuro-text.yaml", "image": "neuro-image.yaml", "basic": "neuro-image.yaml"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DistributedConfig(_Strict):
    """Seed 003's ``distributed`` section. The learner's work is one encoder pass and
    prototype updates, which run in one process; more than one node or GPU is refused
    rather than silently ignored."""

    num_nodes: int = Field(1, ge=1, description="machines; only 1 is supported")
    num_gpus_per_node: int = Field(0, ge=0, description="GPUs per machine: 0 (CPU) or 1")
    backend: Literal["gloo", "nccl"] = Field("gloo", description="process-group backend")
    precision: Literal["32", "32-true", "16-mixed", "bf16-mixed"] = Field(
        "32", description="float precision of the backbone pass (CPU: 32 or bf16-mixed)"
    )
    use_fsdp: bool = Field(False, description="shard the backbone (needs several GPUs)")

    @model_validator(mode="after")
    def _one_process(self) -> DistributedConfig:
        if self.num_nodes > 1 or self.num_gpus_per_node > 1 or self.use_fsdp:
            raise ValueError(
                "the neuromorphic learner trains in one process: set num_nodes: 1, "
                "num_gpus_per_node: 0 or 1 and use_fsdp: false"
            )
        return self


class NeuroTrainConfig(_Strict):
    """How each task is learnt."""

    stdp_passes: int = Field(
        1, ge=0, description="recall + reward-modulated STDP passes over a task's rows"
    )
    stdp_max_rows: int | None = Field(
        2000,
        ge=1,
        description="recall + STDP on at most this many of a task's rows (a seeded subset; "
        "a recall costs P^2 per step); null = every row",
    )
    calibration_fraction: float = Field(
        0.1,
        ge=0.0,
        lt=0.9,
        description="share of each task's training rows held out to calibrate abstention",
    )
    batch_size: int = Field(256, ge=1, description="inputs per recall / STDP batch")
    projection_task: Literal["first", "none"] = Field(
        "first",
        description="first: the projection head (concept_encoder.projection_dim) is fitted on "
        "the first task and then frozen, so old prototypes keep their meaning; none: no head",
    )


class NeuroRunConfig(_Strict):
    name: str = Field("neuro", description="model name in the registry")
    stream: StreamConfig = Field(default_factory=StreamConfig)
    concept_encoder: ConceptEncoderConfig = Field(default_factory=ConceptEncoderConfig)
    prototype_manager: PrototypeManagerConfig = Field(default_factory=PrototypeManagerConfig)
    snn: SNNConfig = Field(default_factory=SNNConfig)
    composer: ComposerConfig = Field(default_factory=ComposerConfig)
    training: NeuroTrainConfig = Field(default_factory=NeuroTrainConfig)
    distributed: DistributedConfig = Field(default_factory=DistributedConfig)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)

    @model_validator(mode="after")
    def _distance_needs_whitening(self) -> NeuroRunConfig:
        if self.composer.abstain_on != "confidence" and (
            self.prototype_manager.similarity != "whitened"
        ):
            raise ValueError(
                f"composer.abstain_on: {self.composer.abstain_on} measures Mahalanobis "
                "distances: set prototype_manager.similarity: whitened (or abstain_on: "
                "confidence)"
            )
        return self


def parse_neuro_config(raw: Any, where: str = "config") -> NeuroRunConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return NeuroRunConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, where)) from e


def load_neuro_config(path: str | Path, overrides: list[str] | None = None) -> NeuroRunConfig:
    """Read and check a learner YAML (``--set key=value`` style ``overrides`` applied)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"learner config {file} not found: create one with "
            "`neuroplast neuro init --template text > neuro.yaml`"
        )
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{file}: not valid YAML ({e}); check the indentation") from e
    return parse_neuro_config(apply_overrides(raw or {}, overrides or []), where=str(file))


def template_text(kind: str) -> str:
    """The YAML of ``neuro init --template KIND`` (text, image; basic = image)."""
    from importlib import resources

    if kind not in TEMPLATES:
        raise ConfigError(f"unknown template {kind!r}; choose one of {', '.join(TEMPLATES)}")
    return (resources.files("neuroplast") / "templates" / TEMPLATES[kind]).read_text("utf-8")
