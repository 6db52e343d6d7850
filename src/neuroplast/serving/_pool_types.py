"""The values the model pool is configured with and answers in: :class:`ServeSettings`,
:class:`ServedModel`, :class:`Answer`, and the hooks of :class:`PoolObserver`.
:mod:`neuroplast.serving.pool` re-exports them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neuroplast.errors import ConfigError
from neuroplast.inference.base import Prediction
from neuroplast.serving._loading import InputSpec, check_serve_backend

__all__ = ["Answer", "PoolObserver", "ServeSettings", "ServedModel"]


@dataclass
class ServeSettings:
    """How the pool serves: the backend, batching, registry polling and the prediction log."""

    backend: str = "onnx"
    max_batch: int = 64
    max_wait_ms: float = 2.0
    max_queue: int = 4096
    poll_seconds: float = 1.0
    log_sample: float = 1.0
    log_max_age_days: float | None = 30.0
    log_max_rows: int | None = 1_000_000
    threads: int | None = None
    warm: bool = True

    def __post_init__(self) -> None:
        check_serve_backend(self.backend)
        if self.max_batch < 1:
            raise ConfigError(f"--max-batch must be at least 1, got {self.max_batch}")
        if self.max_wait_ms < 0:
            raise ConfigError(f"--max-wait-ms must be 0 or more, got {self.max_wait_ms}")
        if self.max_queue < self.max_batch:
            raise ConfigError(
                f"max_queue ({self.max_queue}) must be at least --max-batch ({self.max_batch})"
            )
        if self.poll_seconds <= 0:
            raise ConfigError(f"poll_seconds must be more than 0, got {self.poll_seconds}")
        if not 0.0 <= self.log_sample <= 1.0:
            raise ConfigError(f"log_sample must be between 0 and 1, got {self.log_sample}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be at least 1, got {self.threads}")


@dataclass(frozen=True)
class ServedModel:
    """What ``GET /v1/models`` says about one model."""

    name: str
    modality: str
    label_names: list[str]
    input: InputSpec
    production: str
    backend: str
    arms: dict[str, float] = field(default_factory=dict)
    shadows: list[str] = field(default_factory=list)
    task: str = "classification"
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """The answer to one request: which version gave it, on which backend, and how fast."""

    request_id: str
    model: str
    version: str
    backend: str
    predictions: list[Prediction]
    latency_ms: float
    answers: list[dict[str, Any]] | None = None  # a neuromorphic learner's, one per input


class PoolObserver:
    """Typed no-op hooks the pool fires (the server's metrics override them). An observer
    need not subclass this: a missing method is skipped."""

    def on_batch(self, model: str, version_ref: str, size: int, seconds: float) -> None:
        """A batch of ``size`` inputs of ``version_ref`` ran in ``seconds``."""

    def on_queue(self, model: str, version_ref: str, depth: int) -> None:
        """``depth`` inputs wait in the queue of ``version_ref``."""

    def on_swap(self, model: str, old_ref: str, new_ref: str) -> None:
        """``model``'s production version changed from ``old_ref`` to ``new_ref``."""

    def on_shadow(self, model: str, version_ref: str, agreed: int, total: int) -> None:
        """Shadow ``version_ref`` agreed with the answer on ``agreed`` of ``total`` inputs."""
