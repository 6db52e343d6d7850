"""Concept-encoder backbones by name: ``@register_encoder("name")`` on a factory
``(cfg, context) -> Backbone``; ``hf:<dir>`` names any local Hugging Face model directory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import torch
from torch import Tensor, nn

from neuroplast.continual.neuromorphic.config import ConceptEncoderConfig
from neuroplast.errors import ConfigError, DataError

if TYPE_CHECKING:
    from neuroplast.registry import Registry

__all__ = [
    "Backbone",
    "EncoderContext",
    "create_backbone",
    "list_encoders",
    "register_encoder",
]

Modality = Literal["text", "image"]
HF_PREFIX = "hf:"


@dataclass
class EncoderContext:
    """What a backbone may need beyond its config: the registry (embedding cache, model
    refs), opened on first use when none was given."""

    registry: Registry | None = None

    def get_registry(self) -> Registry:
        if self.registry is None:
            from neuroplast.registry import Registry

            self.registry = Registry()
        return self.registry


class Backbone:
    """A feature extractor: :meth:`features` maps a batch of inputs to ``[n, dim]``
    float32 features. ``module`` is the torch module that trains when the backbone is not
    frozen (None: it cannot train); ``identity`` names its weights (cache key, checks)."""

    name: str = ""
    modality: Modality = "text"
    module: nn.Module | None = None

    @property
    def dim(self) -> int:
        raise NotImplementedError

    def identity(self) -> str:
        raise NotImplementedError

    def prepare(self, inputs: Any) -> None:
        """Build what depends on the inputs (an image model's input size); default nothing."""

    def features(self, inputs: Any) -> Tensor:
        raise NotImplementedError

    def cache_keys(self, inputs: Any) -> list[str] | None:
        """One key per input for the registry's embedding cache (None: do not cache)."""
        return None


Factory = Callable[[ConceptEncoderConfig, EncoderContext], Backbone]
F = TypeVar("F", bound=Factory)
_FACTORIES: dict[str, Factory] = {}


def register_encoder(name: str) -> Callable[[F], F]:
    """Register a backbone factory (or a Backbone class taking ``(cfg, context)``)."""
    if not name or name.startswith(HF_PREFIX):
        raise ConfigError(f"an encoder name must be non-empty and not start with hf:; got {name!r}")

    def decorate(factory: F) -> F:
        if name in _FACTORIES and _FACTORIES[name] is not factory:
            raise ConfigError(f"encoder {name!r} is registered already")
        _FACTORIES[name] = factory
        return factory

    return decorate


def list_encoders() -> list[str]:
    """The registered backbone names, and ``hf:<dir>`` for a local Hugging Face model."""
    _load_builtins()
    return [*sorted(_FACTORIES), f"{HF_PREFIX}<local model dir>"]


def _load_builtins() -> None:
    import neuroplast.continual.neuromorphic._backbones  # noqa: F401  (registers them)


def create_backbone(cfg: ConceptEncoderConfig, context: EncoderContext) -> Backbone:
    """The backbone ``cfg.encoder_type`` names."""
    _load_builtins()
    name = cfg.encoder_type
    if name.startswith(HF_PREFIX):
        return _FACTORIES["hf"](cfg, context)
    if name not in _FACTORIES:
        raise ConfigError(
            f"concept_encoder.encoder_type {name!r} is not a registered encoder; choose one of: "
            f"{', '.join(list_encoders())}"
        )
    return _FACTORIES[name](cfg, context)


def check_texts(inputs: Any, name: str) -> list[str]:
    if isinstance(inputs, str):
        raise DataError(f"{name} encodes a list of texts, not one string: wrap it in a list")
    if isinstance(inputs, torch.Tensor) or not isinstance(inputs, Sequence):
        raise DataError(
            f"{name} is a text encoder: it takes a list of strings, got {type(inputs).__name__}"
        )
    bad = [i for i, t in enumerate(inputs) if not isinstance(t, str)]
    if bad:
        raise DataError(f"{name}: item {bad[0]} is {type(inputs[bad[0]]).__name__}, not a str")
    return list(inputs)


def check_images(inputs: Any, name: str) -> Tensor:
    if not isinstance(inputs, torch.Tensor) or inputs.ndim != 4:
        shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        raise DataError(
            f"{name} is an image encoder: it takes a float tensor [n, channels, height, width], "
            f"got {shape}"
        )
    if not torch.isfinite(inputs).all():
        raise DataError(f"{name}: the images hold NaN or infinite values")
    return inputs.to(torch.float32)
