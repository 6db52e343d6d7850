"""``continual run``: a stream, composed strategies and a model, trained task by task over
the config's seeds, metrics computed, and the first seed's model registered."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuroplast.continual.config import ContinualConfig
from neuroplast.continual.heads import merge_task_heads
from neuroplast.continual.record import register_continual_version
from neuroplast.continual.runner import RunResult, StrategySummary, summarise
from neuroplast.continual.streams import Stream
from neuroplast.errors import ConfigError
from neuroplast.registry import Registry, VersionRecord
from neuroplast.workflows.register import bundle_preprocessing

__all__ = ["ContinualOutcome", "parse_strategy_sets", "run_continual", "summary_metrics"]

logger = logging.getLogger(__name__)


@dataclass
class ContinualOutcome:
    stream: Stream
    summaries: list[StrategySummary]
    version: VersionRecord | None = None
    plots: dict[str, Path] = field(default_factory=dict)


def parse_strategy_sets(text: str) -> list[list[str]]:
    """``"naive,ewc,replay+lwf"`` -> ``[["naive"], ["ewc"], ["replay", "lwf"]]``."""
    return [[p.strip() for p in item.split("+")] for item in text.split(",") if item.strip()]


def summary_metrics(summary: StrategySummary) -> dict[str, Any]:
    """What the registry records about a strategy's runs (means over seeds)."""
    return {
        "strategy": summary.strategy,
        "seeds": [r.seed for r in summary.runs],
        "acc": summary.mean("acc"),
        "acc_std": summary.std("acc"),
        "bwt": summary.mean("bwt"),
        "fwt": summary.mean("fwt"),
        "forgetting": summary.mean("forgetting"),
        "train_seconds": round(summary.seconds, 2),
        "memory_bytes": summary.memory_bytes,
        "accuracy_matrix": summary.mean_matrix(),
        "random_init": summary.runs[0].metrics.random_init,
    }


def _register(
    registry: Registry, config: ContinualConfig, stream: Stream, summary: StrategySummary
) -> tuple[VersionRecord, dict[str, Path]]:
    result: RunResult = summary.runs[0]
    config_dict = config.model_dump(mode="json", by_alias=True)
    run = registry.start_run(config.name, config_dict)
    preprocessing = bundle_preprocessing(
        stream.modality,
        max_length=config.stream.max_length,
        image_shape=None if stream.modality == "text" else stream.input_shape,
    )
    if stream.modality == "image":  # the stream's input_range, as predict must scale inputs
        preprocessing["mean"], preprocessing["std"] = stream.image_normalisation
    if stream.features is not None:  # numeric columns: (x - mean) / std on a zero-padded grid
        preprocessing.update(mean=0.0, std=1.0, features=stream.features)
    metrics = {
        **summary_metrics(summary),
        "stream": stream.name,
        "scenario": stream.scenario,
        "test_accuracy": summary.mean("acc"),  # ACC: mean over the tasks after the last
        "tasks": [t.classes for t in stream.tasks],
    }
    version, plots = register_continual_version(
        registry,
        name=config.name,
        architecture=str(config.model["architecture"]),
        task="text_classification" if stream.modality == "text" else "image_classification",
        model=merge_task_heads(result.model),  # multi-head: the same logits in one layer
        arch_config=result.arch_config,
        label_names=stream.label_names,
        preprocessing=preprocessing,
        data={"stream": config.stream.model_dump(mode="json")},
        vocab=stream.vocab,
        plugins=result.plugins,
        metrics=metrics,
        config=config_dict,
        matrix=summary.mean_matrix(),
        run_id=run.id,
    )
    registry.complete_run(run.id)
    return version, plots


def run_continual(
    config: ContinualConfig,
    registry: Registry | None,
    *,
    strategy_sets: list[list[str]] | None = None,
    on_run: Callable[[RunResult], None] | None = None,
) -> ContinualOutcome:
    """Run every strategy set (default: the config's one) and register the first one's model
    when ``registry`` is given."""
    sets = strategy_sets or [list(config.strategies)]
    if registry is not None and sets[0] == ["neuromorphic"]:  # refused before any training
        raise ConfigError(
            "continual run cannot register the neuromorphic learner (prototypes and a spiking "
            "memory, not a torch classifier): train and register it with `neuroplast neuro "
            "train neuro.yaml` (`neuro init --template image|text` writes one), measure it "
            "beside other strategies with `continual compare --strategies replay,neuromorphic`"
            ", or add --no-register"
        )
    stream, summaries = summarise(config, sets, on_run=on_run)
    outcome = ContinualOutcome(stream, summaries)
    if registry is not None:
        outcome.version, outcome.plots = _register(registry, config, stream, summaries[0])
    return outcome
