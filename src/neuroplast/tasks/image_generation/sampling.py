"""A registered image generator, loaded, and ``generate``'s options checked and applied."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from neuroplast.errors import ConfigError
from neuroplast.inference.meta import ModelMeta
from neuroplast.registry import Registry, VersionRecord
from neuroplast.tasks._store import load_task_version
from neuroplast.tasks.image_generation.config import ImageGenConfig
from neuroplast.tasks.image_generation.models import create_generator, sample_images
from neuroplast.tasks.image_generation.training import TASK

__all__ = ["GeneratedImages", "LoadedGenerator", "generate_images", "load_generator"]

MAX_IMAGES = 10_000
_OPTIONS = ("n", "class_index", "steps", "seed", "guidance", "output")


@dataclass
class LoadedGenerator:
    version: VersionRecord
    meta: ModelMeta
    model: nn.Module
    settings: ImageGenConfig

    @property
    def conditional(self) -> bool:
        return bool(self.meta.arch_config.get("conditional", False))

    @property
    def num_classes(self) -> int:
        return int(self.meta.arch_config.get("num_classes", 10))

    @property
    def is_diffusion(self) -> bool:
        return self.meta.architecture == "image_ddpm"

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.meta.data.get("data", {}))


@dataclass
class GeneratedImages:
    images: np.ndarray  # [n, 1, 28, 28], float32 in [0, 1]
    labels: list[int] | None
    seed: int
    steps: int | None
    seconds: float


def load_generator(registry: Registry, ref: str) -> LoadedGenerator:
    """The image-generation version ``ref`` (every file's hash checked)."""
    stored = load_task_version(registry, ref, TASK)
    settings = ImageGenConfig.model_validate(stored.meta.data.get("image_generation", {}))
    model = stored.build(create_generator)
    return LoadedGenerator(stored.version, stored.meta, model, settings)


def _labels(gen: LoadedGenerator, n: int, class_index: int | None) -> Tensor | None:
    """The class of each image: ``class_index`` for all; a conditional VAE or GAN cycles
    through the classes; a conditional DDPM without a class samples unconditionally."""
    if class_index is not None:
        if not gen.conditional:
            raise ConfigError(
                f"{gen.version.ref} is not class-conditional: drop --class (train with "
                "model.conditional: true to choose the class)"
            )
        if not 0 <= class_index < gen.num_classes:
            names = ", ".join(f"{i} {n}" for i, n in enumerate(gen.meta.label_names))
            raise ConfigError(
                f"--class {class_index} is out of range: {gen.version.ref} knows classes "
                f"0..{gen.num_classes - 1} ({names})"
            )
        return torch.full((n,), class_index, dtype=torch.long)
    if gen.conditional and not gen.is_diffusion:
        return torch.arange(n) % gen.num_classes
    return None


def generate_images(gen: LoadedGenerator, **options: Any) -> GeneratedImages:
    """``n`` images (``class_index``, ``steps``, ``seed``, ``guidance`` as for ``neuroplast
    generate``; None = the version's default)."""
    unknown = sorted(k for k, v in options.items() if k not in _OPTIONS and v is not None)
    if unknown:
        raise ConfigError(f"image generators take {', '.join(_OPTIONS)}; not {', '.join(unknown)}")
    n = 64 if options.get("n") is None else int(options["n"])
    if not 1 <= n <= MAX_IMAGES:
        raise ConfigError(f"--n {n}: generate between 1 and {MAX_IMAGES:,} images")
    steps = options.get("steps")
    if steps is not None and not gen.is_diffusion:
        raise ConfigError(
            f"--steps is for diffusion models; {gen.version.ref} is a {gen.meta.architecture} "
            "(one network pass per image)"
        )
    steps = int(steps if steps is not None else gen.settings.steps) if gen.is_diffusion else None
    if steps is not None and not 1 <= steps <= int(gen.meta.arch_config.get("timesteps", 1000)):
        raise ConfigError(f"--steps {steps}: between 1 and the model's timesteps")
    guidance = options.get("guidance")
    guidance = float(gen.settings.guidance if guidance is None else guidance)
    seed = int(options.get("seed") or 0)
    labels = _labels(gen, n, options.get("class_index"))
    started = time.perf_counter()
    images = sample_images(gen.model, n, labels, seed=seed, steps=steps or 0, guidance=guidance)
    seconds = time.perf_counter() - started
    return GeneratedImages(
        images.numpy().astype(np.float32),
        None if labels is None else labels.tolist(),
        seed,
        steps,
        seconds,
    )


def output_path(value: Any, ref: str) -> Path:
    """``-o``: a ``.png`` path (default ``<name>-samples.png``)."""
    path = Path(value) if value else Path(f"{ref.replace(':', '-')}-samples.png")
    if path.suffix.lower() != ".png":
        raise ConfigError(f"-o {path}: give a .png path (the array goes beside it as .npy)")
    return path
