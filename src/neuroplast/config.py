"""Typed run configuration: the YAML a user writes, validated before any work starts.

Every section rejects unknown keys and says which keys exist. ``--set a.b=value``
overrides are applied to the raw mapping before validation, so they are checked
exactly like the file.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from neuroplast.data.augment_config import AugmentConfig
from neuroplast.errors import ConfigError
from neuroplast.tasks.anomaly.config import AnomalyConfig
from neuroplast.tasks.forecasting.config import ForecastConfig
from neuroplast.tasks.generation.config import GenerationConfig
from neuroplast.tasks.image_generation.config import ImageGenConfig
from neuroplast.types import TaskType

__all__ = [
    "OTHER_TEMPLATES",
    "TEMPLATES",
    "DataConfig",
    "EarlyStoppingConfig",
    "EvaluationConfig",
    "LoggerName",
    "OptimizerConfig",
    "RunConfig",
    "SchedulerConfig",
    "TrainConfig",
    "VocabConfig",
    "apply_overrides",
    "format_validation_error",
    "is_valid_model_name",
    "load_run_config",
    "parse_run_config",
    "template_text",
]

TEMPLATES = (
    "text-cnn",
    "text-lstm",
    "text-transformer",
    "text-hybrid",
    "text-minilm",
    "image-cnn",
    "image-mlp",
    "image-vit",
    "textgen-lstm",
    "textgen-gpt",
    "anomaly-tabular",
    "anomaly-series",
    "anomaly-image",
    "forecast",
    "image-vae",
    "image-gan",
    "image-ddpm",
)
# Templates of other config kinds (``neuroplast continual run``), not run configs.
# image-efficientnet (a run config) is here while tests/test_config.py tells an image
# template by an "image" prefix of its architecture (efficientnet-lite0 has none).
OTHER_TEMPLATES = ("continual", "image-efficientnet")
# Keys of the `model:` section that are not the architecture's own config keys.
_MODEL_SECTION_KEYS = frozenset({"architecture", "pretrained_embeddings"})
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def is_valid_model_name(name: str) -> bool:
    """Letters, digits, ``_ - .``, at most 100 characters, no ``..`` and no path separator.

    The whole string must match (``fullmatch``: ``$`` also matches before a trailing newline,
    so a name ending in a newline would pass and then never be found again)."""
    return bool(_NAME_RE.fullmatch(name)) and ".." not in name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VocabConfig(_Strict):
    max_size: int = Field(20000, ge=3, description="vocabulary size including <pad> and <unk>")
    min_freq: int = Field(1, ge=1, description="drop tokens seen fewer times than this")
    lowercase: bool = True


class DataConfig(_Strict):
    dataset: str | None = Field(None, description="a built-in data set (neuroplast datasets list)")
    path: str | None = Field(None, description="a CSV / JSONL / Parquet file or an image folder")
    text_column: str = "text"
    label_column: str = "label"
    val_fraction: float = Field(0.1, gt=0.0, lt=0.5)
    test_fraction: float = Field(0.1, gt=0.0, lt=0.5)
    seed: int = 13
    max_length: int = Field(64, ge=1, le=4096, description="tokens kept per text")
    limit: int | None = Field(None, ge=10, description="subsample to at most this many rows")
    vocab: VocabConfig = Field(default_factory=VocabConfig)
    augment: Literal["none", "standard"] = Field(
        "none",
        description="training-time image augmentation (training split only): none | standard",
    )
    augmentation: AugmentConfig = Field(
        default_factory=AugmentConfig, description="strength of each transform of standard"
    )

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.dataset is None) == (self.path is None):
            raise ValueError("set exactly one of data.dataset (a built-in name) or data.path")
        return self


class OptimizerConfig(_Strict):
    name: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.01, ge=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="SGD only")


class SchedulerConfig(_Strict):
    name: Literal["none", "cosine", "step", "onecycle", "plateau"] = "none"
    step_size: int = Field(1, ge=1, description="step: epochs between decays")
    gamma: float = Field(0.5, gt=0.0, le=1.0, description="step / plateau: decay factor")
    patience: int = Field(1, ge=0, description="plateau: epochs without improvement")
    pct_start: float = Field(0.1, gt=0.0, lt=1.0, description="onecycle: warm-up share")
    min_lr: float = Field(0.0, ge=0.0)


class EarlyStoppingConfig(_Strict):
    enabled: bool = True
    monitor: str = "val_loss"
    mode: Literal["min", "max"] = "min"
    patience: int = Field(3, ge=1)
    min_delta: float = Field(0.0, ge=0.0)


#: The experiment trackers of ``train.loggers`` (see :mod:`neuroplast.training.loggers`).
LoggerName = Literal["csv", "tensorboard", "mlflow"]


class TrainConfig(_Strict):
    epochs: int = Field(5, ge=1, le=10000)
    batch_size: int = Field(64, ge=1)
    eval_batch_size: int = Field(256, ge=1)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    grad_clip: float | None = Field(1.0, gt=0.0, description="max gradient norm; null = off")
    accumulate_grad_batches: int = Field(1, ge=1)
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    checkpoint_every: int = Field(1, ge=1, description="epochs between resumable checkpoints")
    precision: Literal["auto", "32-true", "bf16-mixed", "16-mixed"] = "auto"
    accelerator: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    seed: int = 42
    num_threads: int | None = Field(None, ge=1, description="torch CPU threads; null = default")
    loggers: list[LoggerName] = Field(
        default_factory=list,
        description=(
            "experiment trackers that record each epoch's metrics, the run's hyperparameters "
            "and the registered version (neuroplast train): csv, tensorboard, mlflow; the last "
            "two need `pip install 'neuroplast[tracking]'`"
        ),
    )
    log_dir: str | None = Field(
        None,
        description=(
            "folder of the loggers' files; null = <home>/logs. A run writes "
            "<log_dir>/<name>/<run id>/csv and .../tensorboard"
        ),
    )
    mlflow_uri: str | None = Field(
        None,
        description=(
            "MLflow tracking URI (http://..., sqlite:///...); null = $MLFLOW_TRACKING_URI, "
            "else sqlite:///<log_dir>/mlflow.db"
        ),
    )

    @field_validator("loggers")
    @classmethod
    def _distinct_loggers(cls, loggers: list[LoggerName]) -> list[LoggerName]:
        twice = sorted({name for name in loggers if loggers.count(name) > 1})
        if twice:
            raise ValueError(f"lists {', '.join(twice)} more than once")
        return loggers


class EvaluationConfig(_Strict):
    """What ``neuroplast train`` and ``evaluate`` compute next to the model's own metrics."""

    baseline: bool = Field(
        True,
        description=(
            "fit the TF-IDF + logistic regression baseline on the training split (text "
            "models); skipped anyway, with a warning, above 1000 classes or 10 million class "
            "x feature weights"
        ),
    )


class RunConfig(_Strict):
    name: str = Field(description="model name in the registry")
    task: TaskType | None = None
    data: DataConfig
    model: dict[str, Any] = Field(description="architecture: NAME plus that architecture's keys")
    train: TrainConfig = Field(default_factory=TrainConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    anomaly: AnomalyConfig | None = Field(None, description="task: anomaly_detection only")
    forecast: ForecastConfig | None = Field(None, description="task: forecasting only")
    generation: GenerationConfig | None = Field(None, description="task: generation only")
    image_generation: ImageGenConfig | None = Field(None, description="task: image_generation only")

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        for section, owner in (
            ("anomaly", "anomaly_detection"),
            ("forecast", "forecasting"),
            ("generation", "generation"),
            ("image_generation", "image_generation"),
        ):
            if getattr(self, section) is not None and self.task != owner:
                raise ValueError(f"the {section}: section needs task: {owner}")
        if not is_valid_model_name(self.name):
            raise ValueError(
                f"name {self.name!r} is not a valid model name: use letters, digits, '_', '-', "
                "'.' (no '..', no '/'), at most 100 characters"
            )
        if "architecture" not in self.model:
            raise ValueError("model.architecture is missing (see `neuroplast init --help`)")
        return self

    @property
    def architecture(self) -> str:
        return str(self.model["architecture"])

    @property
    def arch_options(self) -> dict[str, Any]:
        """The architecture's own keys (what ``create_model`` receives)."""
        return {k: v for k, v in self.model.items() if k not in _MODEL_SECTION_KEYS}

    @property
    def pretrained_embeddings(self) -> str | None:
        value = self.model.get("pretrained_embeddings")
        return None if value is None else str(value)


def format_validation_error(error: ValidationError, where: str) -> str:
    """One readable line per problem, with dotted locations and the allowed keys."""
    parts = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"])
        if item["type"] == "extra_forbidden":
            parts.append(f"unknown key {loc!r}")
        else:
            parts.append(f"{loc or 'config'}: {item['msg']}")
    return f"{where}: " + "; ".join(parts)


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    cls: Any = model
    for part in loc[:-1]:
        field = cls.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type):
            return []
        cls = field.annotation
        if not issubclass(cls, BaseModel):
            return []
    return sorted(cls.model_fields)


def parse_run_config(raw: Any, where: str = "config") -> RunConfig:
    """Validate a mapping as a :class:`RunConfig`, raising :class:`ConfigError` on any problem."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        config = RunConfig.model_validate(raw)
    except ValidationError as e:
        message = format_validation_error(e, where)
        extra = [i for i in e.errors() if i["type"] == "extra_forbidden"]
        if extra:
            known = _known_keys(RunConfig, tuple(extra[0]["loc"]))
            if known:
                message += f" (accepted keys there: {', '.join(known)})"
        raise ConfigError(message) from e
    if config.task is not None and not config.task.is_classification:
        from neuroplast.tasks import task_handler  # the task checks its sections and model

        task_handler(config.task).check_config(config, where)
    else:
        _check_architecture(config, where)
    return config


def _check_architecture(config: RunConfig, where: str) -> None:
    from neuroplast.models import get_spec, validate_config

    spec = get_spec(config.architecture)
    if config.pretrained_embeddings is not None:
        from neuroplast.models.pretrained import list_pretrained_embeddings

        known = {v.name: v for v in list_pretrained_embeddings()}
        source = known.get(config.pretrained_embeddings)
        if source is None:
            raise ConfigError(
                f"{where}: model.pretrained_embeddings={config.pretrained_embeddings!r} is not "
                f"known; choose one of: {', '.join(known)} (or remove the key)"
            )
        if spec.modality != "text":
            raise ConfigError(f"{where}: model.pretrained_embeddings is for text models only")
        if config.model.get("embedding_dim", source.dim) != source.dim:
            raise ConfigError(
                f"{where}: model.pretrained_embeddings={source.name} gives {source.dim}-d "
                f"vectors; set model.embedding_dim: {source.dim}"
            )
    probe = dict(config.arch_options)
    probe.setdefault("num_classes", 2)
    if spec.modality == "text":
        probe.setdefault("vocab_size", 100)
    try:
        validate_config(config.architecture, probe)
    except ConfigError as e:
        raise ConfigError(f"{where}: model: {e}") from e


def _coerce(value: str) -> Any:
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


_YAML_KINDS = {"list": "a list", "str": "a string", "int": "a number", "float": "a number"}


def _require_mapping(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        kind = _YAML_KINDS.get(type(raw).__name__, f"a {type(raw).__name__}")
        raise ConfigError(
            f"{where}: expected a mapping (`key: value` lines) at the top level, got {kind}; "
            "start from a template of `neuroplast init`"
        )
    return raw


def apply_overrides(
    raw: dict[str, Any], overrides: list[str], *, where: str = "config"
) -> dict[str, Any]:
    """Return a copy of ``raw`` with ``a.b.c=value`` overrides applied (values parsed as YAML).

    ``raw`` must be a mapping (:class:`ConfigError` otherwise), and so is the result."""
    out = _require_mapping(yaml.safe_load(yaml.safe_dump(_require_mapping(raw, where))), where)
    for item in overrides:
        key, sep, value = item.partition("=")
        parts = [part.strip() for part in key.split(".")]
        if not sep or not all(parts):
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, for example train.epochs=3")
        node = out
        for depth, part in enumerate(parts[:-1], start=1):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(
                    f"--set {item!r}: {'.'.join(parts[:depth])!r} is a value, not a section"
                )
            node = child
        node[parts[-1]] = _coerce(value)
        if parts[:-1] == ["data"] and parts[-1] in ("path", "dataset") and node[parts[-1]]:
            node.pop("dataset" if parts[-1] == "path" else "path", None)  # one source wins
    return out


def load_run_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML run config from ``path``, apply overrides and validate it.

    The file must hold a mapping at the top level (an empty file counts as an empty one);
    a list or a scalar is a :class:`ConfigError`, with or without ``--set`` overrides."""
    file = Path(path)
    if not file.exists():
        raise ConfigError(f"config file {file} not found: create one with `neuroplast init`")
    if file.is_dir():
        raise ConfigError(
            f"config path {file} is a directory, not a YAML file; pass the file itself "
            "(create one with `neuroplast init`)"
        )
    if not file.is_file():
        raise ConfigError(f"config path {file} is not a regular file; pass a YAML file")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{file}: not valid YAML ({e}); check the indentation") from e
    except OSError as e:
        raise ConfigError(f"config file {file} cannot be read ({e.strerror})") from e
    where = str(file)
    mapping = {} if raw is None else raw
    return parse_run_config(apply_overrides(mapping, overrides or [], where=where), where=where)


def template_text(name: str) -> str:
    """The YAML text of a built-in template (see :data:`TEMPLATES`)."""
    if name not in TEMPLATES + OTHER_TEMPLATES:
        known = ", ".join(TEMPLATES + OTHER_TEMPLATES)
        raise ConfigError(f"unknown template {name!r}; choose one of: {known}")
    return resources.files("neuroplast").joinpath(f"templates/{name}.yaml").read_text("utf-8")
