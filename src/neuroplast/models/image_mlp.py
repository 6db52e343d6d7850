"""Multi-layer perceptron over flattened pixels: the simplest image baseline."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from torch import Tensor, nn

from neuroplast.models._image_config import ImageArchConfig
from neuroplast.models._images import check_images
from neuroplast.models._registry import register_model

__all__ = ["ImageMLPClassifier", "ImageMLPConfig"]


class ImageMLPConfig(ImageArchConfig):
    """Configuration of the ``"image_mlp"`` architecture."""

    hidden_dim: int = Field(default=256, ge=1, description="Width of each hidden layer.")
    num_layers: int = Field(default=2, ge=1, description="Hidden layers (Linear-ReLU-Dropout).")
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0, description="Dropout after each layer.")


@register_model(
    "image_mlp",
    modality="image",
    config=ImageMLPConfig,
    description="MLP over flattened pixels with ReLU and dropout.",
)
class ImageMLPClassifier(nn.Module):
    """``forward(x[B, C, H, W]) -> logits[B, num_classes]``; H = W = image_size."""

    modality: ClassVar[str] = "image"

    def __init__(self, config: ImageMLPConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = [nn.Flatten()]
        width = config.in_channels * config.image_size**2
        for _ in range(config.num_layers):
            layers += [nn.Linear(width, config.hidden_dim), nn.ReLU(), nn.Dropout(config.dropout)]
            width = config.hidden_dim
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, config.num_classes)

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.config.in_channels, self.config.image_size)
        logits: Tensor = self.classifier(self.features(x))
        return logits
