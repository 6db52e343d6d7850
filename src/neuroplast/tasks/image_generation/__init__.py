"""Image generation (``task: image_generation``): a VAE, a DCGAN and a small DDPM on
Fashion-MNIST, each optionally class-conditional.

- models: a convolutional VAE (:mod:`.vae`), a DCGAN with a projection discriminator
  (:mod:`.gan`), a U-Net noise predictor (:mod:`.unet`) with a linear or cosine schedule,
  DDPM training and DDIM sampling (:mod:`.diffusion`);
- ``generate``: a seeded PNG grid and a ``.npy`` array (:mod:`.sampling`, :mod:`.grid`);
- evaluation: FID and k-NN precision/recall in the pooled features of a registered
  neuroplast Fashion-MNIST classifier, beside the split-test floor and random noise
  (:mod:`.metrics`, :mod:`.features`, :mod:`.evaluation`).

Importing this package loads no torch: :func:`handler` is what
:func:`neuroplast.tasks.task_handler` calls.
"""

from __future__ import annotations

from neuroplast.tasks.image_generation.config import (
    DDPMConfig,
    GANConfig,
    ImageGenConfig,
    VAEConfig,
)
from neuroplast.tasks.image_generation.handler import ImageGenerationHandler

__all__ = [
    "DDPMConfig",
    "GANConfig",
    "ImageGenConfig",
    "ImageGenerationHandler",
    "VAEConfig",
    "handler",
]


def handler() -> ImageGenerationHandler:
    """The image-generation task's :class:`~neuroplast.tasks.TaskHandler`."""
    return ImageGenerationHandler()
