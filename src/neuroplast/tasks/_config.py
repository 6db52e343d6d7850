"""Pieces the tasks' config sections share (pydantic only: loaded with every YAML file)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast.config import TrainConfig

__all__ = ["Strict", "check_monitor", "validate_section"]


class Strict(BaseModel):
    """A config section that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid")


def validate_section(cls: type[Strict], raw: dict[str, Any], where: str) -> Strict:
    """``raw`` validated as ``cls``; every problem in one :class:`ConfigError` line that
    names the keys ``cls`` accepts."""
    try:
        return cls.model_validate(raw)
    except ValidationError as e:
        problems = []
        for item in e.errors():
            loc = ".".join(str(p) for p in item["loc"])
            if item["type"] == "extra_forbidden":
                problems.append(f"unknown key {loc!r}")
            else:
                problems.append(f"{loc or 'section'}: {item['msg']}")
        accepted = ", ".join(cls.model_fields)
        raise ConfigError(f"{where}: {'; '.join(problems)} (accepted keys: {accepted})") from e


def check_monitor(train: TrainConfig, where: str) -> None:
    """The tasks stop early on a loss only: they report no accuracy."""
    monitor = train.early_stopping.monitor
    if train.early_stopping.enabled and monitor not in ("val_loss", "train_loss"):
        raise ConfigError(
            f"{where}: train.early_stopping.monitor={monitor!r}; this task reports val_loss "
            "and train_loss (mode: min)"
        )
