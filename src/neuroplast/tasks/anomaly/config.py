"""The ``anomaly:`` section of a run config and the autoencoders' ``model:`` keys.

pydantic only: :mod:`neuroplast.config` loads this with every YAML file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from neuroplast.tasks._config import Strict

Baseline = Literal["isolation_forest", "lof"]

__all__ = [
    "ARCHITECTURES",
    "BUILTIN_KINDS",
    "AnomalyConfig",
    "ConvAEConfig",
    "DenseAEConfig",
    "SeriesAEConfig",
    "input_kind",
]

InputKind = Literal["tabular", "series", "image"]


class AnomalyConfig(Strict):
    """How rows, windows or images are read, scaled and thresholded."""

    label_column: str | None = Field(
        None,
        description=(
            "column marking anomalies; used only to drop anomalies from the training split, "
            "to evaluate and (threshold: f1) to choose the threshold; null = no labels"
        ),
    )
    anomaly_values: list[str] = Field(
        default_factory=lambda: ["1", "true", "anomaly"],
        description="values of label_column (compared as lower-case text) that mean anomaly",
    )
    feature_columns: list[str] | None = Field(
        None, description="tabular: the numeric columns to use; null = every other column"
    )
    series_column: str = Field("value", description="series: the column of the series")
    window: int = Field(64, ge=8, le=4096, description="series: points per window")
    stride: int = Field(8, ge=1, description="series: points between window starts")
    normal_class: int | None = Field(
        None, ge=0, description="image: the class trained on (every other class is anomalous)"
    )
    scaling: Literal["standard", "minmax", "none"] = Field(
        "standard", description="fitted on the training split, stored with the version"
    )
    threshold: Literal["fpr", "f1"] = Field(
        "fpr",
        description=(
            "fpr: the validation normals' score quantile giving target_fpr; f1: the validation "
            "score with the best F1 (needs labels and anomalies in the validation split)"
        ),
    )
    target_fpr: float = Field(0.01, gt=0.0, lt=0.5)
    baselines: list[Baseline] = Field(
        default_factory=lambda: list[Baseline](["isolation_forest", "lof"]),
        description="scikit-learn baselines fitted on the same training rows by evaluate",
    )


class DenseAEConfig(Strict):
    """Dense autoencoder for tabular rows."""

    hidden_dims: list[int] = Field(default_factory=lambda: [32, 16], min_length=1)
    latent_dim: int = Field(4, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class SeriesAEConfig(Strict):
    """1-D convolutional (conv1d_autoencoder) or LSTM (lstm_autoencoder) autoencoder for
    series windows."""

    channels: list[int] = Field(default_factory=lambda: [16, 32], min_length=1)
    kernel_size: int = Field(7, ge=3)
    hidden_size: int = Field(32, ge=1, description="lstm_autoencoder only")
    latent_dim: int = Field(16, ge=1)


class ConvAEConfig(Strict):
    """Convolutional autoencoder for images."""

    channels: list[int] = Field(default_factory=lambda: [16, 32], min_length=1)
    latent_dim: int = Field(32, ge=1)


#: architecture name -> (its config class, the inputs it reads)
ARCHITECTURES: dict[str, tuple[type[Strict], InputKind]] = {
    "dense_autoencoder": (DenseAEConfig, "tabular"),
    "conv1d_autoencoder": (SeriesAEConfig, "series"),
    "lstm_autoencoder": (SeriesAEConfig, "series"),
    "conv_autoencoder": (ConvAEConfig, "image"),
}


#: the built-in anomaly data sets and the inputs they hold (neuroplast.tasks.anomaly.data)
BUILTIN_KINDS: dict[str, InputKind] = {
    "shuttle": "tabular",
    "ecg_mitdb": "series",
    "fashion_mnist": "image",
}


def input_kind(architecture: str) -> InputKind:
    return ARCHITECTURES[architecture][1]
