"""The YAML of a continual run: a stream, the strategies (plugins) and their options, a
model and the training settings of each task. Unknown keys are rejected."""

from __future__ import annotations

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

from neuroplast.config import (
    OptimizerConfig,
    TrainConfig,
    apply_overrides,
    format_validation_error,
)
from neuroplast.errors import ConfigError

__all__ = [
    "STREAMS",
    "ContinualConfig",
    "ContinualOptimizerConfig",
    "ContinualTrainConfig",
    "EWCOptions",
    "ICaRLOptions",
    "LwFOptions",
    "ReplayOptions",
    "SIOptions",
    "StrategyOptions",
    "StreamConfig",
    "load_continual_config",
    "parse_continual_config",
]

STREAMS = ("split_mnist", "permuted_mnist", "split_fashion_mnist", "wordnet", "csv", "files")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StreamConfig(_Strict):
    source: Literal[
        "split_mnist", "permuted_mnist", "split_fashion_mnist", "wordnet", "csv", "files"
    ] = "split_mnist"
    scenario: Literal["class", "task", "domain"] = "class"
    tasks: int | None = Field(None, ge=1, description="keep the first N tasks")
    classes_per_task: int = Field(2, description="split streams: classes in each task")
    train_per_class: int | None = Field(None, ge=10, description="subsample training rows")
    test_per_class: int | None = Field(None, ge=5, description="subsample test rows")
    test_fraction: float = Field(
        0.2,
        gt=0.0,
        lt=0.9,
        description="held out per class when the data has no official test set and no split",
    )
    seed: int = 0
    path: str | None = Field(
        None,
        description="csv: a table (.csv/.tsv/.jsonl/.parquet) or arrays (.npz/.safetensors) "
        "with a task column",
    )
    paths: list[str] = Field(
        default_factory=list, description="files: one table, array file or image folder per task"
    )
    kind: Literal["auto", "text", "image", "features"] = Field(
        "auto",
        description="user streams: texts, images (pixel columns 0..255, image folders, uint8 "
        "arrays) or numeric features; auto: a text column means texts, else numeric columns "
        "that fit an image are pixels, others features",
    )
    image_shape: list[int] | None = Field(
        None, min_length=3, max_length=3, description="[C, H, W] of pixel columns / flat arrays"
    )
    feature_columns: list[str] | None = Field(
        None,
        description="numeric columns used as inputs; null = every column but label, task and split",
    )
    standardize: bool = Field(
        True, description="features: scale each column by the training rows' mean and std"
    )
    text_column: str = "text"
    label_column: str = "label"
    task_column: str = "task"
    split_column: str = Field(
        "split", description="user streams: train / val / test per row, honoured as given"
    )
    split_file: str | None = Field(
        None, description="built-in streams: a table with row and split columns fixing the rows"
    )
    evaluate_on: Literal["test", "val"] = Field(
        "test", description="the rows R is measured on (val: the split's val rows, for tuning)"
    )
    max_length: int = Field(32, ge=1, le=1024, description="text: tokens kept per row")
    vocab_size: int = Field(20000, ge=10, description="text: vocabulary size")
    input_range: tuple[float, float] = Field(
        (-1.0, 1.0), description="images: pixel 0 maps to the first value, 255 to the second"
    )
    heads: Literal["single", "multi"] = Field(
        "single",
        description="task-IL: one output layer masked to each task's classes (single), or one "
        "head per task (multi)",
    )

    @field_validator("input_range")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError(
                f"needs [low, high] with low < high, e.g. [0, 1] or [-1, 1]; got {list(value)}"
            )
        return value

    @model_validator(mode="after")
    def _heads(self) -> StreamConfig:
        if self.heads == "multi" and self.scenario != "task":
            raise ValueError(
                f"heads=multi gives each task its own head, which needs the task id at test "
                f"time: use scenario: task (scenario is {self.scenario})"
            )
        return self


class EWCOptions(_Strict):
    lambda_: float = Field(
        10000.0,
        ge=0.0,
        alias="lambda",
        description="penalty strength (on the Fisher normalised to sum 1 unless fisher_norm: none)",
    )
    gamma: float = Field(1.0, ge=0.0, le=1.0, description="online EWC: decay of old Fisher")
    fisher_samples: int = Field(500, ge=1, description="rows used to estimate the Fisher")
    fisher_labels: Literal["expected", "argmax"] = Field(
        "expected", description="Fisher over the predicted distribution, or its argmax only"
    )
    fisher_norm: Literal["sum", "none"] = Field(
        "sum",
        description="sum: each task's Fisher divided by its sum, so lambda does not depend on "
        "how long a task was trained; none: the raw Fisher of the papers",
    )
    anchor: Literal["task", "latest"] = Field(
        "task", description="ewc: each Fisher at its own task's parameters, or at the latest"
    )
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SIOptions(_Strict):
    c: float = Field(100.0, ge=0.0, description="penalty strength")
    xi: float = Field(0.1, gt=0.0, description="damping of the importance")


class LwFOptions(_Strict):
    temperature: float = Field(2.0, gt=0.0)
    alpha: float | None = Field(
        None, ge=0.0, le=1.0, description="distillation share; null = 1 - 1/task"
    )
    softmax: Literal["auto", "all_seen", "all_but_label", "old_only"] = Field(
        "auto",
        description="class-IL: distil over every class seen so far but the row's own label "
        "(all_but_label), all of them (all_seen, van de Ven & Tolias's, which learns no new "
        "task) or the old classes only (old_only); auto = old_only beside replay, else "
        "all_but_label",
    )
    t_squared: bool = Field(
        False, description="scale the distillation by T^2 (Hinton's; it outvotes the labels)"
    )


class ReplayOptions(_Strict):
    buffer_size: int = Field(1000, ge=1, description="samples kept from past tasks")
    policy: Literal["reservoir", "class_balanced"] = "class_balanced"
    batch_size: int | None = Field(None, ge=1, description="replayed rows per batch")


class ICaRLOptions(ReplayOptions):
    buffer_size: int = Field(2000, ge=1, description="exemplars kept over all classes")
    selection: Literal["herding", "random"] = Field(
        "herding", description="exemplars: herding in feature space, or random per class"
    )
    loss: Literal["bce", "ce"] = Field(
        "ce", description="ce: softmax + distillation; bce: iCaRL's sigmoid loss"
    )
    distil_weight: float = Field(1.0, ge=0.0, description="weight of the distillation term")
    t_squared: bool = Field(
        False, description="ce: scale the distillation by T^2 (Hinton's; 4x at T = 2)"
    )
    classifier: Literal["nme", "output"] = Field(
        "nme", description="nme: nearest mean of exemplars (iCaRL's); output: the output layer"
    )
    train_on: Literal["union", "replay"] = Field(
        "union", description="union: task rows + exemplars; replay: a replayed batch per step"
    )


class StrategyOptions(_Strict):
    ewc: EWCOptions = Field(default_factory=EWCOptions)
    online_ewc: EWCOptions = Field(default_factory=EWCOptions)
    si: SIOptions = Field(default_factory=SIOptions)
    lwf: LwFOptions = Field(default_factory=LwFOptions)
    replay: ReplayOptions = Field(default_factory=ReplayOptions)
    icarl: ICaRLOptions = Field(default_factory=ICaRLOptions)


class ContinualOptimizerConfig(OptimizerConfig):
    """The optimizer of each task; continual defaults: Adam, lr 1e-3, no weight decay (the
    protocol of most papers), whatever keys a user leaves out."""

    name: Literal["adamw", "adam", "sgd"] = "adam"
    weight_decay: float = Field(0.0, ge=0.0)


class ContinualTrainConfig(TrainConfig):
    """The training of each task: ``neuroplast train``'s settings with continual defaults
    (Adam 1e-3, batch 128, no clipping, no weight decay) plus the protocol's budget and
    optimizer-state knobs."""

    batch_size: int = Field(128, ge=1)
    optimizer: ContinualOptimizerConfig = Field(default_factory=ContinualOptimizerConfig)
    grad_clip: float | None = Field(None, gt=0.0, description="max gradient norm; null = off")
    steps_per_task: int | None = Field(
        None,
        ge=1,
        description="optimizer steps on each task, whatever the size of its training set "
        "(replay, joint and iCaRL included); null = train.epochs passes over it",
    )
    reset_optimizer: bool = Field(
        True, description="a fresh optimizer for each task (false: Adam's moments carry over)"
    )


class ContinualConfig(_Strict):
    name: str = Field("continual", description="model name in the registry")
    stream: StreamConfig = Field(default_factory=StreamConfig)
    strategies: list[str] = Field(default_factory=lambda: ["naive"])
    options: StrategyOptions = Field(default_factory=StrategyOptions)
    model: dict[str, Any] = Field(
        default_factory=lambda: {"architecture": "image_mlp", "hidden_dim": 400, "num_layers": 2}
    )
    train: ContinualTrainConfig = Field(default_factory=ContinualTrainConfig)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)

    @field_validator("strategies")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        from neuroplast.continual.strategies import check_strategies

        check_strategies(value)
        return value

    @field_validator("model")
    @classmethod
    def _arch(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "architecture" not in value:
            raise ValueError("model.architecture is missing (for example image_mlp or cnn)")
        return value


def parse_continual_config(raw: Any, where: str = "config") -> ContinualConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return ContinualConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, where)) from e


def load_continual_config(path: str | Path, overrides: list[str] | None = None) -> ContinualConfig:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(
            f"stream config {file} not found: create one with "
            "`neuroplast init --template continual > stream.yaml`"
        )
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{file}: not valid YAML ({e}); check the indentation") from e
    return parse_continual_config(apply_overrides(raw or {}, overrides or []), where=str(file))
