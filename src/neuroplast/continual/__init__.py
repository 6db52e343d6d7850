"""Continual learning: task streams, strategies as plugins on the one training loop, the
standard metrics, a reproduction of a published table and updates of registered models."""

from neuroplast.continual.config import ContinualConfig, StreamConfig, load_continual_config
from neuroplast.continual.learner import ContinualLearner, MaskedModel
from neuroplast.continual.metrics import ContinualMetrics, compute_metrics
from neuroplast.continual.runner import RunResult, StrategySummary, run_strategy, summarise
from neuroplast.continual.sources import make_stream
from neuroplast.continual.strategies import create_plugins, list_strategies
from neuroplast.continual.streams import Stream, Task

__all__ = [
    "ContinualConfig",
    "ContinualLearner",
    "ContinualMetrics",
    "MaskedModel",
    "RunResult",
    "StrategySummary",
    "Stream",
    "StreamConfig",
    "Task",
    "compute_metrics",
    "create_plugins",
    "list_strategies",
    "load_continual_config",
    "make_stream",
    "run_strategy",
    "summarise",
]
