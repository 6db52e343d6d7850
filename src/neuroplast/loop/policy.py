"""``loop.yaml``: what triggers the closed loop, what it trains, the gate a candidate must
pass, how it is rolled out and when it is promoted or rolled back.

Every section and key is checked when the file is read (unknown keys, wrong types and
out-of-range numbers are refused with the key's dotted name and how to fix it), so a typo
fails at once and not at the first drift alarm. Accuracies are fractions (0.02 = 2 points).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from neuroplast.errors import ConfigError

__all__ = [
    "DETECTORS",
    "DecideSection",
    "FeedbackSection",
    "GateSection",
    "LoopPolicy",
    "RolloutSection",
    "TriggerSection",
    "UpdateSection",
    "load_policy",
    "parse_duration",
    "policy_template",
]

Detector = Literal["features", "class_mix", "confidence", "inputs", "accuracy"]
#: The drift tests of ``neuroplast monitor`` a trigger can count, by short name.
DETECTORS: tuple[Detector, ...] = ("features", "class_mix", "confidence", "inputs", "accuracy")
_DURATION = re.compile(r"^\s*(?P<n>\d+(\.\d+)?)\s*(?P<unit>s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, where: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``7d``, ``1w`` -> a timedelta; anything else: ConfigError."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None or float(match.group("n")) <= 0:
        raise ConfigError(
            f"{where}: {text!r} is not a duration; write a number and a unit: 90s, 30m, 24h, "
            "7d or 1w"
        )
    return timedelta(seconds=float(match.group("n")) * _UNITS[match.group("unit")])


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _check_duration(value: str | None, where: str) -> str | None:
    if value is not None:
        try:
            parse_duration(value, where)
        except ConfigError as e:
            raise ValueError(str(e).split(": ", 1)[1]) from None
    return value


class TriggerSection(_Section):
    """When a candidate is trained: drift in the newest windows of the serving version's
    logged traffic (``neuroplast monitor``), low accuracy on recent feedback, new classes
    in the feedback, or (``always``) whenever enough feedback has come."""

    detectors: list[Detector] = Field(
        default_factory=lambda: list(DETECTORS), min_length=1, description="tests that count"
    )
    window: int = Field(500, ge=20, description="inputs per drift window")
    alpha: float = Field(0.05, gt=0.0, lt=0.5, description="false-alarm level per window")
    reference: Literal["heldout", "val", "test", "train"] = "heldout"
    consecutive: int = Field(2, ge=1, le=50, description="newest windows that must all alarm")
    since: str | None = Field(None, description="only traffic since then, e.g. 7d")
    min_accuracy: float | None = Field(None, ge=0.0, le=1.0)
    new_classes: bool = True
    always: bool = False

    @field_validator("since")
    @classmethod
    def _since(cls, value: str | None) -> str | None:
        return _check_duration(value, "trigger.since")


class FeedbackSection(_Section):
    """The labelled inputs (prediction log + feedback) a candidate learns from."""

    min_labelled: int = Field(200, ge=10, description="labelled inputs needed to train")
    since: str = Field("production", description="production | all | a duration: 7d")
    max_rows: int = Field(5000, ge=10, le=100_000, description="newest labelled inputs used")
    holdout: float = Field(0.25, gt=0.0, lt=0.9, description="held back for the gate")

    @field_validator("since")
    @classmethod
    def _since(cls, value: str) -> str:
        if value not in ("production", "all"):
            _check_duration(value, "feedback.since")
        return value


class UpdateSection(_Section):
    """How the candidate learns: as ``neuroplast continual update``."""

    strategy: str = Field("replay", description="replay, replay+lwf, ewc, naive, ...")
    buffer_size: int = Field(2000, ge=1, le=1_000_000)
    epochs: int | None = Field(None, ge=1, le=1000)
    lr: float | None = Field(None, gt=0.0, le=10.0, description="null: the parent's")
    allow_new_classes: bool = True
    seed: int = 0

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, value: str) -> str:
        from neuroplast.continual.strategies import check_strategies

        names = [p.strip() for p in value.split("+")]
        try:
            check_strategies(names)
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return "+".join(names)

    @property
    def strategies(self) -> list[str]:
        return self.strategy.split("+")


class GateSection(_Section):
    """What a candidate must show before any user sees it."""

    max_old_drop: float = Field(0.02, ge=0.0, le=1.0, description="reference test set")
    min_gain: float = Field(0.01, ge=-1.0, le=1.0, description="vs production, held back")
    min_holdout: int = Field(30, ge=1, description="held-back labelled inputs needed")


class RolloutSection(_Section):
    """How a candidate that passed the gate meets traffic."""

    mode: Literal["ab", "shadow", "direct"] = "ab"
    candidate_share: float = Field(0.2, gt=0.0, lt=1.0)
    sticky_key: str | None = None
    min_requests: int = Field(100, ge=1, description="requests per arm before deciding")
    min_feedback: int = Field(50, ge=1, description="labelled inputs per arm before deciding")
    max_duration: str = Field("24h", description="then decide on what there is")

    @field_validator("max_duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        _check_duration(value, "rollout.max_duration")
        return value

    @property
    def max_age(self) -> timedelta:
        return parse_duration(self.max_duration, "rollout.max_duration")


class DecideSection(_Section):
    """Promote or roll back on the feedback collected during the rollout."""

    promote_margin: float = Field(0.0, ge=-1.0, le=1.0)
    rollback_margin: float = Field(0.05, ge=0.0, le=1.0)
    alpha: float | None = Field(None, gt=0.0, lt=0.5, description="one-sided z-test level")


class LoopPolicy(_Section):
    """The whole policy: six sections, each optional (its defaults apply)."""

    trigger: TriggerSection = Field(default_factory=TriggerSection)
    feedback: FeedbackSection = Field(default_factory=FeedbackSection)
    update: UpdateSection = Field(default_factory=UpdateSection)
    gate: GateSection = Field(default_factory=GateSection)
    rollout: RolloutSection = Field(default_factory=RolloutSection)
    decide: DecideSection = Field(default_factory=DecideSection)


def _fields_of(loc: tuple[Any, ...]) -> list[str]:
    cls: Any = LoopPolicy
    for part in loc[:-1]:
        field = cls.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type):
            return []
        cls = field.annotation
    fields: dict[str, Any] = getattr(cls, "model_fields", {})
    return sorted(fields)


def _explain(error: ValidationError, where: str) -> str:
    parts = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"])
        if item["type"] == "extra_forbidden":
            known = ", ".join(_fields_of(tuple(item["loc"])))
            parts.append(f"unknown key {loc!r} (known here: {known})")
        elif item["type"] == "model_type":
            parts.append(f"{loc}: expected a section of keys, got {item['input']!r:.60}")
        else:
            msg = str(item["msg"]).removeprefix("Value error, ")
            parts.append(f"{loc}: {msg} (got {item['input']!r:.60})")
    return f"{where}: " + "; ".join(parts) + " (`neuroplast init --template loop` prints every key)"


def _set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    section, dot, name = key.partition(".")
    if not dot or not section or not name or "." in name:
        raise ConfigError(
            f"override {key!r}: name a key as SECTION.KEY, e.g. update.strategy=naive"
        )
    current = raw.get(section)
    if current is None:
        current = raw[section] = {}
    if not isinstance(current, dict):
        raise ConfigError(f"override {key!r}: {section!r} is not a section in the policy file")
    current[name] = value


def parse_policy(
    raw: Any, where: str = "policy", overrides: Mapping[str, Any] | None = None
) -> LoopPolicy:
    """A mapping (a parsed ``loop.yaml``) as a :class:`LoopPolicy`; ``overrides`` maps
    ``section.key`` to a value that replaces the file's."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: expected sections (trigger:, feedback:, update:, gate:, rollout:, "
            f"decide:) at the top level, got {type(raw).__name__}"
        )
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value)
    try:
        return LoopPolicy.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_explain(e, where)) from None


def load_policy(
    path: str | Path | LoopPolicy, overrides: Mapping[str, Any] | None = None
) -> LoopPolicy:
    """Read and check ``loop.yaml`` (a :class:`LoopPolicy` is returned as it is, with the
    ``overrides`` applied)."""
    if isinstance(path, LoopPolicy):
        if not overrides:
            return path
        return parse_policy(path.model_dump(), "policy", overrides)
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"policy file {file} does not exist; write one with "
            f"`neuroplast init --template loop > {file.name}`"
        )
    try:
        raw = yaml.safe_load(file.read_text("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{file} is not valid YAML: {' '.join(str(e).split())}") from e
    return parse_policy(raw, str(file), overrides)


def policy_template() -> str:
    """The commented ``loop.yaml`` that ``neuroplast init --template loop`` prints."""
    return resources.files("neuroplast").joinpath("templates/loop.yaml").read_text("utf-8")
