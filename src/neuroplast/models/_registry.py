"""Architectures by name: ``register_model`` / ``create_model`` / ``list_models``, as in timm.

An architecture module decorates its ``nn.Module`` class with :func:`register_model`, naming
its typed config class. :func:`create_model` validates a plain mapping (from YAML, JSON or the
Python API) against that class and turns every pydantic error into one readable
:class:`~neuroplast.errors.ConfigError` line.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args

from pydantic import ValidationError
from torch import nn

from neuroplast.errors import ConfigError
from neuroplast.models._config import ArchConfig
from neuroplast.models._params import count_parameters

__all__ = [
    "Modality",
    "ModelSpec",
    "create_model",
    "get_spec",
    "list_models",
    "register_model",
    "validate_config",
]

logger = logging.getLogger(__name__)

Modality = Literal["text", "image"]
_MODALITIES: tuple[str, ...] = get_args(Modality)
_MAX_SHOWN_INPUT = 60

ModuleT = TypeVar("ModuleT", bound=nn.Module)


@dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about one architecture."""

    name: str
    modality: Modality
    config_cls: type[ArchConfig]
    model_cls: type[nn.Module]
    description: str

    @property
    def accepted_keys(self) -> list[str]:
        """The config keys this architecture accepts, in declaration order."""
        return list(self.config_cls.model_fields)

    @property
    def required_keys(self) -> list[str]:
        """The config keys that have no default."""
        return [k for k, f in self.config_cls.model_fields.items() if f.is_required()]


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str, *, modality: Modality, config: type[ArchConfig], description: str
) -> Callable[[type[ModuleT]], type[ModuleT]]:
    """Class decorator that registers an architecture under ``name``.

    The class must accept its config (an instance of ``config``) as the only argument of
    ``__init__``. Its ``modality`` class attribute is set to ``modality`` (or checked, if the
    class already declares one).
    """
    if modality not in _MODALITIES:
        raise ConfigError(
            f"cannot register architecture {name!r}: modality {modality!r} is not one of "
            f"{', '.join(_MODALITIES)}"
        )
    if not (isinstance(config, type) and issubclass(config, ArchConfig)):
        raise ConfigError(
            f"cannot register architecture {name!r}: config must be a subclass of ArchConfig, "
            f"got {config!r}"
        )

    def decorator(model_cls: type[ModuleT]) -> type[ModuleT]:
        known = _REGISTRY.get(name)
        if known is not None and known.model_cls.__qualname__ != model_cls.__qualname__:
            raise ConfigError(
                f"architecture name {name!r} is already registered by "
                f"{known.model_cls.__module__}.{known.model_cls.__qualname__}; "
                "register this class under another name"
            )
        declared = getattr(model_cls, "modality", modality)
        if declared != modality:
            raise ConfigError(
                f"cannot register {model_cls.__qualname__} as {name!r}: the class declares "
                f"modality {declared!r} but {modality!r} was given"
            )
        model_cls.modality = modality  # type: ignore[attr-defined]
        _REGISTRY[name] = ModelSpec(name, modality, config, model_cls, description)
        return model_cls

    return decorator


def list_models(modality: str | None = None) -> list[str]:
    """Sorted names of the registered architectures, optionally only those of one modality."""
    if modality is not None and modality not in _MODALITIES:
        raise ConfigError(
            f"unknown modality {modality!r}; use one of {', '.join(_MODALITIES)} or None for all"
        )
    return sorted(n for n, s in _REGISTRY.items() if modality is None or s.modality == modality)


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered under ``name``; :class:`ConfigError` if there is none."""
    spec = _REGISTRY.get(name)
    if spec is None:
        known = list_models()
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"unknown architecture {name!r}{hint}; registered architectures: "
            f"{', '.join(known)}. Choose one of these names (see list_models())"
        )
    return spec


def validate_config(name: str, config: Mapping[str, Any]) -> ArchConfig:
    """Check ``config`` against the architecture's config class and return the typed config.

    ``config`` is not modified. Every problem (unknown key, missing key, bad value) is reported
    in one :class:`ConfigError` line that also lists the keys the architecture accepts.
    """
    spec = get_spec(name)
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"config for architecture {name!r} must be a mapping of keys to values or a "
            f"{spec.config_cls.__name__}, got {type(config).__name__}"
        )
    try:
        return spec.config_cls.model_validate(dict(config))
    except ValidationError as e:
        raise ConfigError(_describe_errors(spec, e)) from e


def create_model(name: str, config: Mapping[str, Any] | ArchConfig) -> nn.Module:
    """Build the architecture ``name`` from a mapping of config keys or from its typed config."""
    spec = get_spec(name)
    if isinstance(config, ArchConfig):
        if not isinstance(config, spec.config_cls):
            raise ConfigError(
                f"architecture {name!r} needs a {spec.config_cls.__name__}, got a "
                f"{type(config).__name__}; pass {spec.config_cls.__name__}(...) or a mapping"
            )
        typed = config
    else:
        typed = validate_config(name, config)
    model = spec.model_cls(typed)
    logger.debug("created %r with %d parameters", name, count_parameters(model))
    return model


def _describe_errors(spec: ModelSpec, error: ValidationError) -> str:
    """One line naming every unknown key, missing key and bad value, then the accepted keys."""
    accepted = spec.accepted_keys
    problems: list[str] = []
    for err in error.errors():
        loc = ".".join(str(part) for part in err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            close = difflib.get_close_matches(loc, accepted, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown key {loc!r}{hint}")
        elif kind == "missing":
            problems.append(f"missing required key {loc!r}")
        else:
            message = err["msg"].removeprefix("Value error, ")
            if loc:
                shown = repr(err["input"])
                if len(shown) > _MAX_SHOWN_INPUT:
                    shown = shown[: _MAX_SHOWN_INPUT - 3] + "..."
                problems.append(f"{loc!r}: {message} (got {shown})")
            else:
                problems.append(message)
    return (
        f"invalid config for architecture {spec.name!r}: {'; '.join(problems)}. "
        f"Accepted keys: {', '.join(accepted)} (required: {', '.join(spec.required_keys)})"
    )
