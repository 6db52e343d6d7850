"""Enums and records shared by the Python API, the trainer and the registry."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["ModelMetrics", "ModelType", "TaskType"]


class ModelType(StrEnum):
    """The seed engine's names for some architectures; each value is a registered name.

    The architecture registry (:func:`neuroplast.models.list_models`) is the list of
    architectures: ``create_model`` takes any registered name, so that a new architecture
    needs no edit here. This enum stays static (not built from the registry at runtime)
    because listing the registry imports torch, which ``neuroplast.types`` must not, and
    because a static enum is what type checkers and editors can read.
    """

    TRANSFORMER = "transformer"
    LSTM = "lstm"
    CNN = "cnn"
    HYBRID = "hybrid"
    MLP = "image_mlp"
    IMAGE_CNN = "image_cnn"
    # anomaly detection and forecasting (neuroplast.tasks.task_architectures())
    DENSE_AUTOENCODER = "dense_autoencoder"
    CONV1D_AUTOENCODER = "conv1d_autoencoder"
    LSTM_AUTOENCODER = "lstm_autoencoder"
    CONV_AUTOENCODER = "conv_autoencoder"
    LSTM_FORECASTER = "lstm_forecaster"
    TCN_FORECASTER = "tcn_forecaster"


class TaskType(StrEnum):
    """What a model is for. ``classification`` and the four seed names are classification
    (one label per input, the modality chosen by the data); the other tasks are handled by
    :func:`neuroplast.tasks.task_handler`."""

    CLASSIFICATION = "classification"
    ANOMALY_DETECTION = "anomaly_detection"
    FORECASTING = "forecasting"
    GENERATION = "generation"
    IMAGE_GENERATION = "image_generation"
    TEXT_CLASSIFICATION = "text_classification"
    SENTIMENT_ANALYSIS = "sentiment_analysis"
    INTENT_RECOGNITION = "intent_recognition"
    IMAGE_CLASSIFICATION = "image_classification"

    @property
    def is_classification(self) -> bool:
        """True for ``classification`` and the seed's classification names."""
        return self not in (
            TaskType.ANOMALY_DETECTION,
            TaskType.FORECASTING,
            TaskType.GENERATION,
            TaskType.IMAGE_GENERATION,
        )

    @property
    def modality(self) -> str:
        """The modality a seed classification name implies (``image`` or ``text``); the
        modality of the other tasks comes from their data."""
        return "image" if self is TaskType.IMAGE_CLASSIFICATION else "text"


@dataclass
class ModelMetrics:
    """One epoch of training, as kept in ``training_history`` and in the registry."""

    epoch: int
    train_loss: float
    val_loss: float | None = None
    val_accuracy: float | None = None
    learning_rate: float | None = None
    samples_per_sec: float | None = None
    seconds: float | None = None
    extra: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def get(self, name: str) -> float | None:
        """The value of a metric by name (``val_loss``, ``val_accuracy``, or an extra one)."""
        if name in self.extra:
            return self.extra[name]
        value = getattr(self, name, None)
        return None if value is None else float(value)
