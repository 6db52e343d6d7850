"""The ``image_generation:`` section of a run config and the three architectures' configs.

Pydantic only (loaded with every YAML file): no torch here. Every section rejects unknown
keys and names the accepted ones.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from neuroplast.errors import ConfigError
from neuroplast.tasks._config import Strict, validate_section

__all__ = [
    "ARCH_CONFIGS",
    "DDPMConfig",
    "GANConfig",
    "ImageGenConfig",
    "VAEConfig",
    "validate_arch",
]

#: The data sets this task trains on (28x28 grayscale, ten classes).
DATASETS = ("fashion_mnist",)
#: The registered image-cnn version whose pooled features FID and precision/recall use.
DEFAULT_FEATURE_MODEL = "fmnist-cnn"


class ImageGenConfig(Strict):
    """How a generator is evaluated and sampled (``neuroplast evaluate / generate``)."""

    feature_model: str = Field(
        DEFAULT_FEATURE_MODEL,
        description=(
            "a registered image_cnn classifier trained on Fashion-MNIST (name, name:N or a "
            "stage): FID and precision/recall are computed on its pooled features"
        ),
    )
    max_minutes: float | None = Field(
        None,
        gt=0.0,
        description=(
            "stop training after this many minutes (the weights of that step are kept); a "
            "CPU budget"
        ),
    )
    init_from: str | None = Field(
        None,
        description=(
            "a registered version (name:N) of the same architecture and model section to "
            "start from: its weights (train in several shorter runs)"
        ),
    )
    eval_samples: int = Field(
        2000, ge=10, le=10000, description="generated images compared with the test set"
    )
    k: int = Field(3, ge=1, le=50, description="neighbours of the precision/recall manifolds")
    steps: int = Field(50, ge=1, le=1000, description="ddpm: DDIM sampling steps by default")
    guidance: float = Field(
        2.0, ge=0.0, le=20.0, description="ddpm with --class: classifier-free guidance weight"
    )


class _Arch(Strict):
    conditional: bool = Field(False, description="condition on the class (--class)")
    num_classes: int = Field(10, ge=2, le=100)


class VAEConfig(_Arch):
    """A convolutional VAE: Bernoulli decoder on pixels in [0, 1], Gaussian latent."""

    latent_dim: int = Field(16, ge=1, le=512)
    channels: list[int] = Field(default_factory=lambda: [32, 64], min_length=2, max_length=2)
    hidden: int = Field(256, ge=8)
    beta: float = Field(1.0, gt=0.0, description="weight of the KL term (1 = the ELBO)")


class GANConfig(_Arch):
    """DCGAN-style generator and discriminator (projection discriminator when conditional)."""

    latent_dim: int = Field(64, ge=1, le=512)
    width: int = Field(64, ge=8, le=512, description="channels at 14x14 (doubled at 7x7)")
    lr: float = Field(2e-4, gt=0.0)
    beta1: float = Field(0.5, ge=0.0, lt=1.0)


class DDPMConfig(_Arch):
    """A small U-Net that predicts the noise; DDPM training, DDIM sampling."""

    width: int = Field(32, ge=8, le=256, description="channels at 28x28 (x2 at 14, x2 at 7)")
    timesteps: int = Field(1000, ge=2, le=4000)
    schedule: Literal["linear", "cosine"] = "linear"
    beta_start: float = Field(1e-4, gt=0.0, lt=1.0, description="linear schedule only")
    beta_end: float = Field(0.02, gt=0.0, lt=1.0, description="linear schedule only")
    p_uncond: float = Field(
        0.1, ge=0.0, lt=1.0, description="conditional: share of labels dropped in training"
    )

    @model_validator(mode="after")
    def _betas(self) -> DDPMConfig:
        if self.beta_end <= self.beta_start:
            raise ValueError(f"beta_end={self.beta_end} must exceed beta_start={self.beta_start}")
        return self


#: Architecture name -> its config (the models are in ``vae.py``, ``gan.py``, ``unet.py``).
ARCH_CONFIGS: dict[str, type[_Arch]] = {
    "image_vae": VAEConfig,
    "image_gan": GANConfig,
    "image_ddpm": DDPMConfig,
}


def validate_arch(architecture: str, options: dict[str, Any], where: str = "model") -> Any:
    """The typed config of ``architecture``; :class:`ConfigError` naming the bad key."""
    cls = ARCH_CONFIGS.get(architecture)
    if cls is None:
        raise ConfigError(
            f"{where}.architecture={architecture!r} is not an image generator; choose one of: "
            f"{', '.join(ARCH_CONFIGS)}"
        )
    return validate_section(cls, options, f"{where} ({architecture})")
