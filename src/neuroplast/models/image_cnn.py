"""A small modern CNN: stages of two conv-BN-ReLU blocks, max pooling, global average pool.

``channels=(32, 64, 128)`` on 28x28 inputs gives 28 -> 14 -> 7 pixel stages; the last stage is
not pooled, so :attr:`ImageCNNClassifier.gradcam_layer` names a 7x7 feature map for GradCAM.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator
from torch import Tensor, nn

from neuroplast.models._config import FilterSizes
from neuroplast.models._image_config import ImageArchConfig
from neuroplast.models._images import check_images
from neuroplast.models._registry import register_model

__all__ = ["ConvBNReLU", "ImageCNNClassifier", "ImageCNNConfig"]


class ImageCNNConfig(ImageArchConfig):
    """Configuration of the ``"image_cnn"`` architecture."""

    channels: FilterSizes = Field(
        default=(32, 64, 128),
        min_length=1,
        description="Output channels of each stage; the image is halved between stages.",
    )
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0, description="Dropout before the head.")

    @model_validator(mode="after")
    def _image_survives_pooling(self) -> ImageCNNConfig:
        smallest = 2 ** (len(self.channels) - 1)
        if self.image_size < smallest:
            raise ValueError(
                f"image_size ({self.image_size}) is too small for {len(self.channels)} stages, "
                f"which halve the image {len(self.channels) - 1} times; use image_size >= "
                f"{smallest} or fewer channels entries"
            )
        return self


class ConvBNReLU(nn.Sequential):
    """3x3 convolution (no bias), batch norm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )


@register_model(
    "image_cnn",
    modality="image",
    config=ImageCNNConfig,
    description="Conv-BN-ReLU stages with max pooling, global average pooling and a linear head.",
)
class ImageCNNClassifier(nn.Module):
    """``forward(x[B, C, H, W]) -> logits[B, num_classes]``."""

    modality: ClassVar[str] = "image"

    def __init__(self, config: ImageCNNConfig) -> None:
        super().__init__()
        self.config = config
        stages: list[nn.Module] = []
        width = config.in_channels
        for index, out in enumerate(config.channels):
            blocks: list[nn.Module] = [ConvBNReLU(width, out), ConvBNReLU(out, out)]
            if index < len(config.channels) - 1:
                blocks.append(nn.MaxPool2d(2))
            stages.append(nn.Sequential(*blocks))
            width = out
        self.features = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(width, config.num_classes)

    @property
    def gradcam_layer(self) -> str:
        """Qualified name of the last conv block, for ``model.get_submodule(...)`` in GradCAM."""
        return f"features.{len(self.features) - 1}"

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, self.config.in_channels)
        pooled = self.pool(self.features(x)).flatten(1)
        logits: Tensor = self.classifier(self.dropout(pooled))
        return logits
