"""Train, evaluate and sample a language model through the registry.

``train_lm`` runs the one training loop (:class:`~neuroplast.training.Trainer`) on windows
of the token stream, then scores the best weights and the Kneser-Ney baseline on the test
split of the same tokens and registers the version. ``evaluate_lm`` recomputes both on any
split (or another text file). Generation is in :mod:`.stream` (it needs no training code).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from neuroplast.errors import ConfigError
from neuroplast.inference.meta import ModelMeta
from neuroplast.tasks.generation.config import GenerationConfig
from neuroplast.tasks.generation.data import LMData, file_stream, prepare_lm_data
from neuroplast.tasks.generation.lm_data import FlatLogits, WindowBatches
from neuroplast.tasks.generation.models import create_lm
from neuroplast.tasks.generation.perplexity import (
    Perplexity,
    baseline_perplexity,
    model_perplexity,
)
from neuroplast.tasks.generation.versions import TASK, LoadedLM, load_lm, write_lm
from neuroplast.training import Callback, MetricsRecorder, Trainer
from neuroplast.workflows.register import marking_failures, reserve_version

if TYPE_CHECKING:
    from collections.abc import Iterable

    from torch import nn

    from neuroplast.config import RunConfig
    from neuroplast.registry import Registry, RunRecord, VersionRecord
    from neuroplast.types import ModelMetrics

__all__ = ["LMScores", "evaluate_lm", "train_lm"]

logger = logging.getLogger(__name__)


def generation_section(config: RunConfig) -> GenerationConfig:
    section = getattr(config, "generation", None)
    return section if isinstance(section, GenerationConfig) else GenerationConfig()


def arch_config(config: RunConfig, vocab_size: int, gen: GenerationConfig) -> dict[str, Any]:
    """The model's keys plus what the data decides (vocabulary size; the GPT's context)."""
    derived: dict[str, Any] = {"vocab_size": vocab_size}
    if config.architecture == "gpt":
        derived["context"] = gen.context
    options = dict(config.arch_options)
    for key, value in derived.items():
        if key in options and options[key] != value:
            raise ConfigError(
                f"model.{key}={options[key]} but it is set from the data and generation "
                f"section ({value}); remove model.{key} (set generation.context instead)"
            )
    return {**options, **derived}


class LMScores:
    """The model's and the baseline's perplexity on one token stream."""

    def __init__(self, model: Perplexity, baseline: Perplexity, order: int, kind: str) -> None:
        self.model, self.baseline, self.order, self.kind = model, baseline, order, kind

    def metrics(self, prefix: str) -> dict[str, Any]:
        return {
            f"{prefix}_perplexity": round(self.model.perplexity, 4),
            f"{prefix}_loss": round(self.model.loss, 5),
            f"{prefix}_bits_per_char": round(self.model.bits_per_char, 4),
            f"baseline_{prefix}_perplexity": round(self.baseline.perplexity, 4),
            f"baseline_{prefix}_bits_per_char": round(self.baseline.bits_per_char, 4),
            "tokens": self.model.tokens,
            "tokenizer": self.kind,
        }

    def lines(self, title: str) -> list[str]:
        unit = "character" if self.kind == "char" else "BPE token"
        m, b = self.model, self.baseline
        return [
            f"{title}: {m.tokens:,} tokens, {m.chars:,} characters; perplexity per {unit}",
            f"  model            perplexity {m.perplexity:9.3f}   {m.bits_per_char:.4f} bits/char",
            f"  Kneser-Ney {self.order}-gram perplexity {b.perplexity:9.3f}   "
            f"{b.bits_per_char:.4f} bits/char",
        ]


def score(
    model: nn.Module, data: LMData, stream: list[int], chars: int, gen: GenerationConfig
) -> LMScores:
    """The model and the Kneser-Ney baseline (fitted on the training stream) on ``stream``."""
    ppl = model_perplexity(model, stream, context=gen.context, chars=chars)
    base, _ = baseline_perplexity(
        data.streams["train"],
        stream,
        order=gen.ngram_order,
        vocab_size=data.tokenizer.vocab_size,
        chars=chars,
    )
    return LMScores(ppl, base, gen.ngram_order, data.tokenizer.kind)


class TimeBudget(Callback):
    """Ends the fit after the epoch past which one more epoch as long as the last would
    exceed ``minutes`` of training (``generation.max_minutes``).

    With ``anneal`` (the one-cycle schedule) the learning rate also follows the clock: each
    step uses the lower of the schedule's rate and ``peak * (1 + cos(pi * t)) / 2``, ``t``
    the share of the budget spent. The one-cycle schedule plans its annealing over every
    epoch of ``train.epochs``; on a machine slower than planned the budget would stop it
    half-way at a high rate, and this ends it annealed either way."""

    def __init__(self, minutes: float, *, anneal: bool = False) -> None:
        self.seconds, self.anneal = minutes * 60.0, anneal
        self.started = self.last = 0.0
        self.peaks: list[float] = []

    def on_fit_start(self, trainer: Trainer) -> None:
        self.started = self.last = time.perf_counter()
        if self.anneal and trainer.optimizer is not None:  # one-cycle keeps the peak as max_lr
            groups = trainer.optimizer.param_groups
            self.peaks = [float(g.get("max_lr", g["lr"])) for g in groups]

    def on_after_backward(self, trainer: Trainer) -> None:
        if not self.peaks or trainer.optimizer is None:
            return
        spent = min(1.0, (time.perf_counter() - self.started) / self.seconds)
        factor = 0.5 * (1.0 + math.cos(math.pi * spent))
        for group, peak in zip(trainer.optimizer.param_groups, self.peaks, strict=True):
            group["lr"] = min(float(group["lr"]), peak * factor)

    def on_epoch_end(self, trainer: Trainer, metrics: ModelMetrics) -> None:
        now = time.perf_counter()
        epoch, self.last = now - self.last, now
        if now - self.started + epoch > self.seconds:
            logger.info("generation.max_minutes: stopping after %.0f s", now - self.started)
            trainer.should_stop = True


def _fit(
    config: RunConfig,
    model: nn.Module,
    batches: tuple[Iterable[Any], Iterable[Any]],
    run: RunRecord,
    registry: Registry,
    progress: Callable[[str, int, int], None] | None,
    on_epoch: Callable[[ModelMetrics], None] | None,
) -> tuple[list[ModelMetrics], Trainer]:
    def record(metrics: ModelMetrics) -> None:
        registry.log_epoch(run.id, metrics)
        if on_epoch is not None:
            on_epoch(metrics)

    budget = generation_section(config).max_minutes
    callbacks: list[Callback] = [MetricsRecorder(record)]
    if budget is not None:
        callbacks.append(TimeBudget(budget, anneal=config.train.scheduler.name == "onecycle"))
    trainer = Trainer(
        config.train,
        callbacks=callbacks,
        checkpoint_dir=run.checkpoint_dir,
        progress=progress,
    )
    flat = FlatLogits(model)
    history = trainer.fit(flat, batches[0], batches[1])
    trainer.load_best_weights(flat)
    return history, trainer


def _start(
    config: RunConfig, registry: Registry, gen: GenerationConfig, data_section: dict[str, Any]
) -> tuple[LMData, nn.Module, dict[str, Any]]:
    """The data, the untrained model (seeded) or the ``generation.init_from`` version's,
    and the model's complete config."""
    parent = load_lm(registry, gen.init_from) if gen.init_from else None
    data = prepare_lm_data(data_section, gen, parent.tokenizer.to_json() if parent else None)
    options = arch_config(config, data.tokenizer.vocab_size, gen)
    torch.manual_seed(config.train.seed)
    model = create_lm(config.architecture, options)
    if parent is not None:
        if (parent.meta.architecture, parent.meta.arch_config) != (config.architecture, options):
            raise ConfigError(
                f"generation.init_from={gen.init_from}: that version is a "
                f"{parent.meta.architecture} with {parent.meta.arch_config}, this run a "
                f"{config.architecture} with {options}; use the same model section"
            )
        model.load_state_dict(parent.model.state_dict())
    return data, model, options


def _meta(
    config: RunConfig, options: dict[str, Any], data: LMData, gen: GenerationConfig
) -> ModelMeta:
    """``model.json``: the task, the model's config, its tokens and how to rebuild its data."""
    return ModelMeta(
        architecture=config.architecture,
        modality="text",
        task=TASK,
        arch_config=options,
        label_names=[],
        preprocessing={"tokenizer": data.tokenizer.kind, "context": gen.context},
        data={"data": config.data.model_dump(mode="json"), "generation": gen.model_dump()},
        name=config.name,
    )


def train_lm(
    config: RunConfig,
    registry: Registry,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    on_epoch: Callable[[ModelMetrics], None] | None = None,
) -> tuple[VersionRecord, LMScores, list[ModelMetrics], float]:
    """Train, score on the test split beside the baseline and register; returns the
    version, the scores, the epochs and the training seconds."""
    registry.check_kind(config.name, TASK)  # before the tokenizer is fitted
    gen = generation_section(config)
    data_section = config.data.model_dump(mode="json")
    data, model, options = _start(config, registry, gen, data_section)
    train_batches = WindowBatches(
        data.streams["train"],
        context=gen.context,
        batch_size=config.train.batch_size,
        seed=config.train.seed,
        per_epoch=gen.epoch_windows,
    )
    val_batches = WindowBatches(
        data.streams["val"], context=gen.context, batch_size=config.train.eval_batch_size
    )
    config_dict = config.model_dump(mode="json")
    run = registry.start_run(config.name, config_dict)
    with registry.heartbeat(run.id), marking_failures(registry, run):
        started = time.perf_counter()
        history, trainer = _fit(
            config, model, (train_batches, val_batches), run, registry, progress, on_epoch
        )
        seconds = time.perf_counter() - started
        scores = score(model, data, data.streams["test"], data.chars("test"), gen)
        meta = _meta(config, options, data, gen)
        draft = reserve_version(registry, meta, config=config_dict, run_id=run.id)
        no_onnx = write_lm(draft, model, data.tokenizer, onnx=gen.export_onnx)
        summary = {
            "best_epoch": trainer.best_epoch,
            "epochs_trained": len(history),
            "train_seconds": round(seconds, 2),
            "ngram_order": gen.ngram_order,
            "onnx_step": no_onnx is None,
            **scores.metrics("test"),
        }
        registry.add_evaluation(
            draft.record.id,
            split="test",
            data_source=data.corpus.source,
            metrics=scores.model.summary(),
            baseline={"kneser_ney_order": gen.ngram_order, **scores.baseline.summary()},
        )
        version = draft.finalize(model, metrics=summary)
        registry.complete_run(run.id)
    return version, scores, history, seconds


def evaluate_lm(
    registry: Registry, ref: str, *, split: str = "test", data: str | None = None
) -> tuple[LoadedLM, LMScores, str]:
    """Perplexity of a registered model and of the baseline (fitted now on the model's
    training split, same tokens) on ``split`` or on the text file ``data``."""
    lm = load_lm(registry, ref)
    lm_data = prepare_lm_data(lm.data, lm.generation, lm.tokenizer.to_json())
    if data is not None:
        stream, chars = file_stream(lm.tokenizer, data, lm.generation)
        where = data
    else:
        lm_data.corpus.split(split)  # names the splits when ``split`` is unknown
        stream, chars, where = lm_data.streams[split], lm_data.chars(split), split
    return lm, score(lm.model, lm_data, stream, chars, lm.generation), where
