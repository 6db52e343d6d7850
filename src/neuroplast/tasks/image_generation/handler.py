"""The image-generation task's handler: ``neuroplast train / evaluate / generate / predict``.

Its top level imports no torch: :meth:`ImageGenerationHandler.check_config` runs while a
YAML file is loaded; the other verbs import their modules when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from neuroplast.errors import ConfigError
from neuroplast.tasks.image_generation.config import DATASETS, validate_arch

if TYPE_CHECKING:
    from neuroplast.config import RunConfig
    from neuroplast.registry import Registry
    from neuroplast.tasks import TaskResult
    from neuroplast.types import ModelMetrics

__all__ = ["ImageGenerationHandler"]


class ImageGenerationHandler:
    """VAE, DCGAN and DDPM on Fashion-MNIST (``task: image_generation``)."""

    task = "image_generation"

    def check_config(self, config: RunConfig, where: str) -> None:
        if config.data.dataset not in DATASETS:
            raise ConfigError(
                f"{where}: data.dataset={config.data.dataset!r}; image generation trains on "
                f"{', '.join(DATASETS)} (data.path is not supported for this task)"
            )
        validate_arch(config.architecture, dict(config.arch_options), f"{where}: model")

    def train(
        self,
        config: RunConfig,
        registry: Registry,
        *,
        progress: Callable[[str, int, int], None] | None = None,
        on_epoch: Callable[[ModelMetrics], None] | None = None,
    ) -> TaskResult:
        from neuroplast.tasks import TaskResult
        from neuroplast.tasks.image_generation.training import train_generator

        self.check_config(config, "config")
        version, summary, history, seconds = train_generator(
            config, registry, progress=progress, on_epoch=on_epoch
        )
        document = {
            "version": version.summary(),
            "home": str(registry.home),
            "train_seconds": round(seconds, 2),
            "history": [m.to_dict() for m in history],
            "test": summary,
        }
        lines = [
            f"{version.ref} ({version.architecture}, {version.params_count:,} parameters) "
            f"trained in {seconds:.1f} s",
            *(f"  {key}: {value}" for key, value in summary.items()),
            f"  next: neuroplast generate {version.ref} --n 64 -o samples.png; "
            f"neuroplast evaluate {version.ref}",
        ]
        return TaskResult(version, dict(version.metrics), document, lines)

    def evaluate(
        self,
        registry: Registry,
        model: str,
        *,
        split: str = "test",
        data: str | None = None,
        feature_model: str | None = None,
        samples: int | None = None,
        seed: int = 0,
        steps: int | None = None,
    ) -> TaskResult:
        """FID and precision/recall on the test set beside the split-test floor and noise;
        stored with the version as an evaluation."""
        from neuroplast.tasks import TaskResult
        from neuroplast.tasks.image_generation.evaluation import (
            evaluate_generator,
            evaluation_document,
        )

        if split != "test" or data is not None:
            raise ConfigError(
                "image generators are evaluated against the Fashion-MNIST test set only "
                "(drop --split and --data)"
            )
        result = evaluate_generator(
            registry, model, feature_model=feature_model, samples=samples, seed=seed, steps=steps
        )
        document = evaluation_document(result)
        version = result.generator.version
        registry.add_evaluation(
            version.id,
            split="test",
            data_source=str(result.generator.data.get("dataset")),
            metrics={**document["metrics"], "samples": result.samples, "k": result.k},
            baseline={"split_test_floor": document["floor"], "uniform_noise": document["noise"]},
        )
        metrics = {f"test_{key}": value for key, value in document["metrics"].items()}
        return TaskResult(version, metrics, document, result.lines())

    def generate(self, registry: Registry, model: str, **options: Any) -> TaskResult:
        """Sample ``n`` images (``class_index``, ``steps``, ``seed``, ``guidance``) and write
        the PNG grid at ``output`` and the float32 array beside it (``.npy``)."""
        from neuroplast.tasks import TaskResult
        from neuroplast.tasks.image_generation.grid import write_samples
        from neuroplast.tasks.image_generation.sampling import (
            generate_images,
            load_generator,
            output_path,
        )

        gen = load_generator(registry, model)
        target = output_path(options.pop("output", None), gen.version.ref)
        made = generate_images(gen, **options)
        png, array = write_samples(made.images, target)
        document = {
            "version": gen.version.ref,
            "n": len(made.images),
            "class": options.get("class_index"),
            "seed": made.seed,
            "steps": made.steps,
            "png": str(png),
            "array": str(array),
            "seconds": round(made.seconds, 3),
        }
        lines = [
            f"{gen.version.ref}: {len(made.images)} images in {made.seconds:.2f} s"
            + (f" ({made.steps} DDIM steps)" if made.steps else ""),
            f"  grid: {png}",
            f"  array: {array} (float32 [n, 1, 28, 28] in [0, 1])",
        ]
        return TaskResult(
            gen.version, {"images": len(made.images)}, document, lines, {"samples": png}
        )

    def predict(self, registry: Registry, model: str, **options: Any) -> TaskResult:
        """A generator takes no inputs: ``predict`` samples like :meth:`generate`."""
        if any(options.get(key) is not None for key in ("inputs", "images", "file")):
            raise ConfigError(
                "an image generator takes no inputs; use `neuroplast generate MODEL --n N -o "
                "out.png [--class C]`"
            )
        options = {
            k: v for k, v in options.items() if k not in ("inputs", "images", "file", "backend")
        }
        return self.generate(registry, model, **options)
