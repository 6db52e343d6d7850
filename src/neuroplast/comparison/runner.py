"""``neuroplast compare``: every architecture on the same split, budget and seeds.

Each architecture's config is the user's config with the ``model`` section of that
architecture's built-in template (the user's own section for the config's architecture)
and that template's optimizer (a learning rate that suits it); the data section (so the
split), the epochs, batch size, early stopping and seeds are the user's for all. Seed ``i``
of ``--seeds N`` is ``train.seed + i``: it changes the initial weights and the shuffling,
not the split. Every training is registered as a version of ``NAME-ARCH`` (the Predictor
timings and the int8 size are measured on the registered bundle).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from neuroplast.config import RunConfig, parse_run_config, template_text
from neuroplast.errors import ConfigError
from neuroplast.models import get_spec
from neuroplast.registry import Registry

__all__ = ["TEMPLATE_OF", "Measurement", "arch_config", "run_compare"]

logger = logging.getLogger(__name__)

#: The built-in template whose model section (and optimizer) an architecture gets.
TEMPLATE_OF = {
    "cnn": "text-cnn",
    "lstm": "text-lstm",
    "transformer": "text-transformer",
    "hybrid": "text-hybrid",
    "minilm": "text-minilm",
    "image_mlp": "image-mlp",
    "image_cnn": "image-cnn",
    "efficientnet-lite0": "image-efficientnet",
}
_FROM_DATA = ("num_classes", "vocab_size", "image_size", "in_channels")
Progress = Callable[[str], None]


@dataclass
class Measurement:
    """One training of one architecture with one seed, and its measured figures."""

    architecture: str
    seed: int
    version: str
    params: int
    train_seconds: float
    train_samples_per_sec: float | None
    latency_ms: float
    throughput: float
    size_fp32_mb: float
    size_int8_mb: float
    accuracy: float
    f1_macro: float
    roc_auc: float | None


def arch_config(base: RunConfig, architecture: str) -> RunConfig:
    """``base`` with ``architecture``'s model section and optimizer (see the module doc)."""
    raw = base.model_dump(mode="json")
    raw["name"] = f"{base.name}-{architecture}"
    raw["evaluation"] = {**raw.get("evaluation", {}), "baseline": False}
    if architecture != base.architecture:
        template = TEMPLATE_OF.get(architecture)
        if template is None:
            model: dict[str, Any] = {"architecture": architecture}
        else:
            parsed = yaml.safe_load(template_text(template))
            model = dict(parsed["model"])
            raw["train"]["optimizer"] = parsed["train"]["optimizer"]
        raw["model"] = {k: v for k, v in model.items() if k not in _FROM_DATA}
    return parse_run_config(raw, f"compare: {architecture}")


def check_architectures(base: RunConfig, architectures: list[str]) -> None:
    """Unknown names, repeats and architectures of the wrong modality fail before training."""
    if not architectures:
        raise ConfigError("--architectures: name at least one, for example cnn,lstm")
    if len(set(architectures)) != len(architectures):
        raise ConfigError(f"--architectures {','.join(architectures)} names one twice")
    modality = get_spec(base.architecture).modality
    for name in architectures:
        spec = get_spec(name)  # ConfigError naming the registered ones
        if spec.modality != modality:
            raise ConfigError(
                f"--architectures: {name} takes {spec.modality} inputs but {base.name}'s data "
                f"is {modality}; compare {modality} architectures only"
            )


def _train_one(
    base: RunConfig, architecture: str, seed: int, registry: Registry, inputs: Any
) -> Measurement:
    from neuroplast.comparison.measure import measure_version
    from neuroplast.workflows import train_from_config

    config = arch_config(base, architecture)
    raw = config.model_dump(mode="json")
    raw["train"]["seed"] = seed
    config = parse_run_config(raw)
    outcome = train_from_config(config, registry)
    rates = [m.samples_per_sec for m in outcome.history if m.samples_per_sec]
    speed = measure_version(registry, outcome.version.ref, inputs)
    head = outcome.test.headline()
    return Measurement(
        architecture=architecture,
        seed=seed,
        version=outcome.version.ref,
        params=outcome.version.params_count,
        train_seconds=round(outcome.train_seconds, 2),
        train_samples_per_sec=sum(rates) / len(rates) if rates else None,
        latency_ms=speed.latency_ms,
        throughput=speed.throughput,
        size_fp32_mb=speed.size_fp32_mb,
        size_int8_mb=speed.size_int8_mb,
        accuracy=float(head["accuracy"] or 0.0),
        f1_macro=float(head["f1_macro"] or 0.0),
        roc_auc=head.get("roc_auc"),
    )


def run_compare(
    base: RunConfig,
    architectures: list[str],
    seeds: int,
    registry: Registry,
    *,
    progress: Progress | None = None,
) -> list[Measurement]:
    """Train and measure every architecture with every seed, in that order."""
    from neuroplast.comparison.measure import timing_inputs

    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    check_architectures(base, architectures)
    for name in architectures:
        arch_config(base, name)  # a config that does not validate fails before any training
    inputs = timing_inputs(base)
    out = []
    for name in architectures:
        for i in range(seeds):
            seed = base.train.seed + i
            started = time.perf_counter()
            out.append(_train_one(base, name, seed, registry, inputs))
            if progress is not None:
                m = out[-1]
                progress(
                    f"{name} seed {seed}: accuracy {m.accuracy:.4f}, {m.latency_ms:.2f} ms, "
                    f"{time.perf_counter() - started:.0f} s"
                )
    return out
