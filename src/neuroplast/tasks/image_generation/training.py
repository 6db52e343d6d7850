"""Train an image generator and register it.

The VAE and the DDPM minimise one loss each (the negative ELBO; the noise-prediction MSE)
through the tasks' training loop (:func:`neuroplast.tasks._fit.fit`: the ``train:`` section's
epochs, batch size, optimizer, schedule, clipping, early stopping, best weights). The GAN
alternates a discriminator and a generator step with two Adam optimizers (``lr``,
``beta1`` of its model section) and keeps the last epoch's weights (its losses do not rank
epochs). Each epoch is logged with the run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from neuroplast.config import RunConfig, TrainConfig
from neuroplast.errors import ConfigError, TrainingError
from neuroplast.inference.meta import ModelMeta
from neuroplast.registry import Registry, VersionRecord
from neuroplast.tasks._fit import fit, mean_loss
from neuroplast.tasks._store import register_task_version, training_run
from neuroplast.tasks.image_generation.config import ImageGenConfig
from neuroplast.tasks.image_generation.data import ImageSplits, load_splits
from neuroplast.tasks.image_generation.gan import DCGAN
from neuroplast.tasks.image_generation.models import create_generator
from neuroplast.types import ModelMetrics

__all__ = ["TASK", "section", "train_generator"]

TASK = "image_generation"
logger = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


class _OutOfTime(Exception):
    """Raised from the progress callback when ``image_generation.max_minutes`` is spent."""


def _budgeted(progress: Progress | None, minutes: float | None) -> Progress:
    """``progress`` that also stops training once ``minutes`` have passed."""
    deadline = None if minutes is None else time.perf_counter() + 60.0 * minutes

    def report(description: str, done: int, total: int) -> None:
        if progress is not None:
            progress(description, done, total)
        if deadline is not None and time.perf_counter() > deadline:
            raise _OutOfTime

    return report


def section(config: RunConfig) -> ImageGenConfig:
    value = getattr(config, "image_generation", None)
    return value if isinstance(value, ImageGenConfig) else ImageGenConfig()


def _loss(conditional: bool) -> Callable[[nn.Module, tuple[Tensor, ...]], Tensor]:
    def loss(model: nn.Module, batch: tuple[Tensor, ...]) -> Tensor:
        value: Tensor = model.loss(batch[0], batch[1] if conditional else None)  # type: ignore[operator]
        return value

    return loss


def _gan_epoch(
    model: DCGAN,
    x: Tensor,
    y: Tensor,
    cfg: TrainConfig,
    opts: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    gen: torch.Generator,
    report: Callable[[int], None],
) -> tuple[float, float]:
    d_opt, g_opt = opts
    conditional = model.config.conditional
    order = torch.randperm(len(x), generator=gen)
    d_total = g_total = 0.0
    batches = 0
    model.train()
    for done, start in enumerate(range(0, len(x), cfg.batch_size), start=1):
        index = order[start : start + cfg.batch_size]
        real, labels = x[index] * 2.0 - 1.0, (y[index] if conditional else None)
        z = torch.randn(len(index), model.config.latent_dim, generator=gen)
        fake = model.generator(z, labels)
        d_loss = model.d_loss(real, fake, labels)
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        g_loss = model.g_loss(fake, labels)
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        if not (torch.isfinite(d_loss) and torch.isfinite(g_loss)):
            raise TrainingError("the GAN's losses became non-finite; lower model.lr")
        d_total, g_total, batches = d_total + float(d_loss), g_total + float(g_loss), batches + 1
        report(done)
    return d_total / max(batches, 1), g_total / max(batches, 1)


def _fit_gan(
    model: DCGAN,
    data: ImageSplits,
    cfg: TrainConfig,
    progress: Progress,
    on_epoch: Callable[[ModelMetrics], None],
) -> list[ModelMetrics]:
    gan_cfg = model.config
    betas = (gan_cfg.beta1, 0.999)
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=gan_cfg.lr, betas=betas)
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=gan_cfg.lr, betas=betas)
    gen = torch.Generator().manual_seed(cfg.seed)
    x, y = data.split("train")
    steps = -(-len(x) // cfg.batch_size)
    history = []
    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()

        def report(done: int, epoch: int = epoch) -> None:
            progress(f"training: epoch {epoch}/{cfg.epochs}", done, steps)

        d_loss, g_loss = _gan_epoch(model, x, y, cfg, (d_opt, g_opt), gen, report)
        seconds = time.perf_counter() - started
        metrics = ModelMetrics(
            epoch=epoch,
            train_loss=g_loss,
            learning_rate=gan_cfg.lr,
            samples_per_sec=len(x) / max(seconds, 1e-9),
            seconds=seconds,
            extra={"d_loss": d_loss, "g_loss": g_loss},
        )
        history.append(metrics)
        on_epoch(metrics)
    model.eval()
    return history


def _meta(config: RunConfig, options: dict[str, Any], data: ImageSplits) -> ModelMeta:
    return ModelMeta(
        architecture=config.architecture,
        modality="image",
        task=TASK,
        arch_config=options,
        label_names=data.label_names,
        preprocessing={"image_shape": [1, 28, 28], "pixel_range": [0.0, 1.0]},
        data={
            "data": config.data.model_dump(mode="json"),
            "image_generation": section(config).model_dump(),
        },
        name=config.name,
    )


def train_generator(
    config: RunConfig,
    registry: Registry,
    *,
    progress: Progress | None = None,
    on_epoch: Callable[[ModelMetrics], None] | None = None,
) -> tuple[VersionRecord, dict[str, Any], list[ModelMetrics], float]:
    """Train, score the held-out loss on the test images (VAE, DDPM) and register."""
    data = load_splits(config.data.model_dump(mode="json"))
    options = dict(config.arch_options)
    settings, cfg = section(config), config.train
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(cfg.seed)
    model = _start(config, registry, options, settings)
    summary: dict[str, Any] = {"init_from": settings.init_from} if settings.init_from else {}
    with training_run(registry, config, on_epoch) as (run, record):
        started = time.perf_counter()
        history = _train(
            model, config, data, _budgeted(progress, settings.max_minutes), record, summary
        )
        seconds = time.perf_counter() - started
        if config.architecture != "image_gan":
            torch.manual_seed(cfg.seed)  # the ELBO and the DDPM loss draw noise
            loss = _loss(bool(options.get("conditional", False)))
            name = "test_neg_elbo" if config.architecture == "image_vae" else "test_noise_mse"
            summary[name] = round(
                mean_loss(model, loss, data.split("test"), cfg.eval_batch_size), 5
            )
        summary.update({"epochs_trained": len(history), "train_seconds": round(seconds, 2)})
        state = {
            "architecture": config.architecture,
            "conditional": bool(options.get("conditional", False)),
        }
        version = register_task_version(
            registry,
            config,
            run=run,
            meta=_meta(config, options, data),
            model=model,
            state=state,
            metrics=summary,
        )
    return version, summary, history, seconds


def _start(
    config: RunConfig, registry: Registry, options: dict[str, Any], settings: ImageGenConfig
) -> nn.Module:
    """The untrained (seeded) model, or the ``init_from`` version's weights."""
    model = create_generator(config.architecture, options)
    if settings.init_from is None:
        return model
    from neuroplast.tasks.image_generation.sampling import load_generator

    parent = load_generator(registry, settings.init_from)
    if (parent.meta.architecture, parent.meta.arch_config) != (config.architecture, options):
        raise ConfigError(
            f"image_generation.init_from={settings.init_from}: that version is a "
            f"{parent.meta.architecture} with {parent.meta.arch_config}, this run a "
            f"{config.architecture} with {options}; use the same model section"
        )
    model.load_state_dict(parent.model.state_dict())
    return model


def _train(
    model: nn.Module,
    config: RunConfig,
    data: ImageSplits,
    progress: Progress,
    record: Callable[[ModelMetrics], None],
    summary: dict[str, Any],
) -> list[ModelMetrics]:
    """Train in place; a spent ``max_minutes`` ends training with the weights of that step."""
    history: list[ModelMetrics] = []

    def keep(metrics: ModelMetrics) -> None:
        history.append(metrics)
        record(metrics)

    try:
        if config.architecture == "image_gan":
            if not isinstance(model, DCGAN):
                raise TrainingError(f"{config.architecture} built a {type(model).__name__}")
            _fit_gan(model, data, config.train, progress, keep)
        else:
            loss = _loss(bool(config.arch_options.get("conditional", False)))
            result = fit(
                model,
                loss,
                data.split("train"),
                data.split("val"),
                config.train,
                progress=progress,
                on_epoch=keep,
            )
            summary["best_epoch"] = result.best_epoch
    except _OutOfTime:
        summary["stopped"] = "max_minutes"
        logger.info("training stopped after image_generation.max_minutes; keeping the last step")
    model.eval()
    return history
