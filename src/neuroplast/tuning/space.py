"""The search space of ``neuroplast tune``: dotted run-config keys and their distributions.

A space file is YAML with one ``params`` mapping::

    params:
      train.optimizer.lr: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}
      train.batch_size: {type: categorical, choices: [32, 64, 128]}
      model.dropout: {type: float, low: 0.1, high: 0.6}
      model.num_filters: {type: int, low: 32, high: 256, step: 32}

Keys are paths under ``model.`` or ``train.`` of the run config; each trial's config is the
base config with the sampled values put in and validated again, so a key the architecture
does not have fails before the first trial. Without ``--space`` the architecture's default
space (:data:`DEFAULT_SPACES`) is used.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from neuroplast.config import RunConfig, format_validation_error, parse_run_config
from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    import optuna

__all__ = ["DEFAULT_SPACES", "Param", "SearchSpace", "default_space", "load_space"]

_ROOTS = ("model.", "train.")
_FIXED = {"model.architecture", "train.seed", "train.epochs"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FloatParam(_Strict):
    type: Literal["float"]
    low: float
    high: float
    log: bool = False
    step: float | None = None

    @model_validator(mode="after")
    def _check(self) -> FloatParam:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log-scaled range needs low > 0")
        if self.log and self.step is not None:
            raise ValueError("use either log: true or step, not both")
        return self


class IntParam(_Strict):
    type: Literal["int"]
    low: int
    high: int
    log: bool = False
    step: int = 1

    @model_validator(mode="after")
    def _check(self) -> IntParam:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and (self.low <= 0 or self.step != 1):
            raise ValueError("a log-scaled int range needs low > 0 and step 1")
        return self


class CategoricalParam(_Strict):
    type: Literal["categorical"]
    choices: list[str | int | float | bool | None] = Field(min_length=1)


Param = Annotated[FloatParam | IntParam | CategoricalParam, Field(discriminator="type")]


class SearchSpace(_Strict):
    """Dotted run-config key -> distribution; :meth:`suggest` samples one trial's values."""

    params: dict[str, Param] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_keys(self) -> SearchSpace:
        for key in self.params:
            if not key.startswith(_ROOTS) or key in _FIXED:
                raise ValueError(
                    f"key {key!r}: tune keys under model. or train. (not model.architecture, "
                    "train.seed or train.epochs, which every trial shares)"
                )
        return self

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """The values of one trial, sampled by ``trial``'s sampler."""
        values: dict[str, Any] = {}
        for key, p in self.params.items():
            if isinstance(p, FloatParam):
                values[key] = trial.suggest_float(key, p.low, p.high, log=p.log, step=p.step)
            elif isinstance(p, IntParam):
                values[key] = trial.suggest_int(key, p.low, p.high, log=p.log, step=p.step)
            else:
                values[key] = trial.suggest_categorical(key, p.choices)
        return values

    def corners(self) -> list[dict[str, Any]]:
        """Two extreme points (all lows / first choices, all highs / last choices)."""
        out = []
        for end in (0, -1):
            point: dict[str, Any] = {}
            for key, p in self.params.items():
                if isinstance(p, CategoricalParam):
                    point[key] = p.choices[end]
                else:
                    point[key] = p.low if end == 0 else p.high
            out.append(point)
        return out

    def check_against(self, config: RunConfig) -> None:
        """Fail now (not at trial 7) when a key or value does not fit the config."""
        for point in self.corners():
            apply_params(config, point, where="--space")


def apply_params(config: RunConfig, values: dict[str, Any], *, where: str = "trial") -> RunConfig:
    """``config`` with the dotted ``values`` put in, validated again."""
    raw = copy.deepcopy(config.model_dump(mode="json", exclude_none=False))
    for key, value in values.items():
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"{where}: {key!r}: {part!r} is a value, not a section")
            node = child
        node[parts[-1]] = value
    return parse_run_config(raw, where)


def _lr(low: float = 1e-4, high: float = 3e-3) -> dict[str, Any]:
    return {"type": "float", "low": low, "high": high, "log": True}


_COMMON: dict[str, Any] = {
    "train.optimizer.lr": _lr(),
    "train.optimizer.weight_decay": {"type": "float", "low": 1e-5, "high": 0.1, "log": True},
    "train.batch_size": {"type": "categorical", "choices": [32, 64, 128]},
}
_DROPOUT = {"type": "float", "low": 0.0, "high": 0.6}

#: The default space of each architecture (what ``tune`` searches without ``--space``).
DEFAULT_SPACES: dict[str, dict[str, Any]] = {
    "cnn": {
        **_COMMON,
        "model.dropout": {"type": "float", "low": 0.1, "high": 0.7},
        "model.num_filters": {"type": "int", "low": 32, "high": 256, "step": 32},
    },
    "lstm": {
        **_COMMON,
        "model.dropout": _DROPOUT,
        "model.hidden_dim": {"type": "int", "low": 32, "high": 256, "step": 32},
    },
    "hybrid": {
        **_COMMON,
        "model.dropout": _DROPOUT,
        "model.num_filters": {"type": "int", "low": 32, "high": 128, "step": 32},
        "model.hidden_dim": {"type": "int", "low": 32, "high": 192, "step": 32},
    },
    "transformer": {
        **_COMMON,
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.4},
        "model.num_layers": {"type": "int", "low": 1, "high": 4},
        "model.hidden_dim": {"type": "categorical", "choices": [128, 256, 512]},
    },
    "minilm": {
        "train.optimizer.lr": _lr(1e-5, 2e-4),
        "train.batch_size": {"type": "categorical", "choices": [16, 32, 64]},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.3},
    },
    "image_mlp": {
        **_COMMON,
        "model.dropout": _DROPOUT,
        "model.hidden_dim": {"type": "int", "low": 64, "high": 512, "step": 64},
        "model.num_layers": {"type": "int", "low": 1, "high": 3},
    },
    "image_cnn": {**_COMMON, "model.dropout": _DROPOUT},
    "efficientnet-lite0": {
        "train.optimizer.lr": _lr(1e-4, 1e-2),
        "train.batch_size": {"type": "categorical", "choices": [32, 64]},
        "model.dropout": {"type": "float", "low": 0.0, "high": 0.5},
    },
}


def _parse(raw: Any, where: str) -> SearchSpace:
    try:
        return SearchSpace.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(
            f"{format_validation_error(e, where)}; a space is `params:` with one "
            "`model.KEY` / `train.KEY` per line: {type: float|int|categorical, low, high, "
            "log, step | choices} (see docs/tuning.md)"
        ) from e


def default_space(architecture: str) -> SearchSpace:
    """The architecture's default space (learning rate, weight decay, batch size otherwise)."""
    return _parse({"params": DEFAULT_SPACES.get(architecture, _COMMON)}, architecture)


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate a space YAML file (:class:`ConfigError` saying what is wrong)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"--space {file}: no such file; write one (see docs/tuning.md)")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"--space {file}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"--space {file}: expected a mapping with a `params:` section")
    return _parse(raw, f"--space {file}")


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
