"""The anomaly detection task handler (see :mod:`neuroplast.tasks`).

Importing this module is light (pydantic only): ``check_config`` runs whenever a run
config is loaded. The verbs import torch and scikit-learn when they run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.errors import ConfigError
from neuroplast.tasks._config import check_monitor, validate_section
from neuroplast.tasks.anomaly.config import ARCHITECTURES, BUILTIN_KINDS, AnomalyConfig

if TYPE_CHECKING:
    from neuroplast.config import RunConfig
    from neuroplast.registry import Registry
    from neuroplast.tasks import Progress, TaskResult
    from neuroplast.types import ModelMetrics

__all__ = ["AnomalyHandler"]


class AnomalyHandler:
    """Autoencoders trained on normal data; scores are reconstruction errors."""

    task = "anomaly_detection"

    def check_config(self, config: RunConfig, where: str) -> None:
        arch = config.architecture
        if arch not in ARCHITECTURES:
            raise ConfigError(
                f"{where}: model.architecture={arch!r} is not an anomaly detection "
                f"architecture; choose one of {', '.join(ARCHITECTURES)}"
            )
        config_cls, kind = ARCHITECTURES[arch]
        validate_section(config_cls, config.arch_options, f"{where}: model")
        cfg = config.anomaly or AnomalyConfig()
        dataset = config.data.dataset
        if dataset is not None and BUILTIN_KINDS.get(dataset) != kind:
            known = [n for n, v in BUILTIN_KINDS.items() if v == kind]
            raise ConfigError(
                f"{where}: data.dataset={dataset!r} is not a built-in {kind} anomaly set for "
                f"{arch}; choose {' or '.join(known)}, or set data.path"
            )
        if kind == "image" and cfg.normal_class is None:
            raise ConfigError(f"{where}: {arch} needs anomaly.normal_class (a class index)")
        if arch == "conv1d_autoencoder":
            depth = len(config.model.get("channels", [16, 32]))
            if cfg.window % 2**depth:
                raise ConfigError(
                    f"{where}: anomaly.window={cfg.window} must be a multiple of {2**depth} "
                    f"(conv1d_autoencoder halves it once per model.channels entry)"
                )
        check_monitor(config.train, where)

    def train(
        self,
        config: RunConfig,
        registry: Registry,
        *,
        progress: Progress | None = None,
        on_epoch: Callable[[ModelMetrics], None] | None = None,
    ) -> TaskResult:
        from neuroplast.tasks.anomaly.training import train_anomaly

        return train_anomaly(config, registry, progress=progress, on_epoch=on_epoch)

    def evaluate(
        self, registry: Registry, model: str, *, split: str = "test", data: str | None = None
    ) -> TaskResult:
        from neuroplast.tasks.anomaly.evaluation import evaluate_anomaly

        return evaluate_anomaly(registry, model, split=split, data=data)

    def predict(self, registry: Registry, model: str, **options: Any) -> TaskResult:
        """Options: ``file`` (rows or a series), ``images`` (image files), ``backend``
        (torch or onnx)."""
        from neuroplast.tasks.anomaly.prediction import predict_anomaly

        unknown = set(options) - {"file", "images", "backend"}
        if unknown:
            raise ConfigError(f"anomaly predict takes file, images, backend; not {unknown}")
        file = options.get("file")
        return predict_anomaly(
            registry,
            model,
            file=None if file is None else Path(file),
            images=options.get("images"),
            backend=options.get("backend", "torch"),
        )
