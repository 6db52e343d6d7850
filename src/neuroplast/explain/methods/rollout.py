"""Attention rollout for Vision Transformers (``image_vit``): how much the pooled token draws
from each patch through all blocks (Abnar & Zuidema, 2020), upsampled to the image. It has no
sign and does not depend on the class."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast.errors import ConfigError
from neuroplast.explain._methods import ExplainMethod, register_method

if TYPE_CHECKING:
    from torch import Tensor, nn

    from neuroplast.explain.image import ImageExplainer
    from neuroplast.explain.text import TextExplainer

__all__ = ["RolloutMethod", "patch_rollout"]


def patch_rollout(model: nn.Module, x: Tensor) -> Tensor:
    """Rollout read at the pooled position, one weight per patch ``[B, rows, cols]``.

    With a class token the row of the class token is read (its own column dropped and the
    rest renormalised); with mean pooling the mean of the patch rows. Each map sums to 1.
    """
    import torch

    from neuroplast.explain.attention import attention_maps, attention_rollout

    maps = attention_maps(model, x)
    batch, _, tokens, _ = maps[0].shape
    rollout = attention_rollout(maps, torch.ones(batch, tokens, dtype=torch.bool))
    first = 1 if getattr(model, "has_class_token", False) else 0
    pooled = rollout[:, 0, first:] if first else rollout.mean(dim=1)
    pooled = pooled / pooled.sum(dim=-1, keepdim=True).clamp(min=1e-12)
    side = round((tokens - first) ** 0.5)
    return pooled.reshape(batch, side, side)


@register_method(
    "rollout", modalities=("image",), signed=False, rank=3, help="attention rollout (image_vit)"
)
class RolloutMethod(ExplainMethod):
    def image(self, explainer: ImageExplainer, x: Tensor, target: Tensor) -> Tensor:
        import torch.nn.functional as F

        grid = patch_rollout(explainer.model, x)
        up = F.interpolate(grid.unsqueeze(1), size=tuple(x.shape[-2:]), mode="nearest")
        return up.squeeze(1)

    def supports(self, explainer: TextExplainer | ImageExplainer) -> bool:
        return hasattr(explainer.model, "has_class_token") and hasattr(
            explainer.model, "patch_embed"
        )

    def check(self, explainer: TextExplainer | ImageExplainer) -> None:
        if not self.supports(explainer):
            raise ConfigError(
                f"a {explainer.architecture} model has no patch attention to roll out; "
                "rollout needs image_vit (use gradcam for image_cnn, or ig / saliency)"
            )
