"""The image generators by architecture name, and one sampling entry for all of them."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from neuroplast.tasks.image_generation.config import validate_arch

__all__ = ["create_generator", "sample_images"]


def create_generator(architecture: str, options: dict[str, Any]) -> nn.Module:
    """The untrained model of ``architecture`` (``image_vae``, ``image_gan``, ``image_ddpm``)."""
    config = validate_arch(architecture, options)
    if architecture == "image_vae":
        from neuroplast.tasks.image_generation.vae import ConvVAE

        return ConvVAE(config)
    if architecture == "image_gan":
        from neuroplast.tasks.image_generation.gan import DCGAN

        return DCGAN(config)
    from neuroplast.tasks.image_generation.unet import DDPMUNet

    return DDPMUNet(config)


def sample_images(
    model: nn.Module,
    n: int,
    labels: Tensor | None,
    *,
    seed: int,
    steps: int,
    guidance: float,
) -> Tensor:
    """``n`` images in [0, 1] ([n, 1, 28, 28]); the same seed gives the same images on CPU."""
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    from neuroplast.tasks.image_generation.unet import DDPMUNet

    if isinstance(model, DDPMUNet):
        return model.sample(n, labels, generator, steps=steps, guidance=guidance)
    images: Tensor = model.sample(n, labels, generator)  # type: ignore[operator]
    return images
