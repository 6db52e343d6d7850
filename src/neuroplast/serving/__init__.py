"""Serving: the runtime behind ``neuroplast serve`` (no HTTP here; see ``serving.app``).

* :class:`ModelPool`: the served versions of each model, loaded from the registry, routed
  (:class:`Router`: A/B arms, shadows), batched (:class:`Batcher`), logged
  (:class:`PredictionLog`) and hot-swapped when the registry changes.
* :class:`ServeSettings`: backend, batching, polling and log settings.
* The errors the server turns into HTTP statuses: :class:`ServingError`,
  :class:`QueueFull` (503), :class:`ModelNotServed` (404), :class:`NotReady` (503).

Names are imported on first use: a server on ONNX Runtime never imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast._lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from neuroplast.serving._loading import InputSpec
    from neuroplast.serving.batcher import Batcher
    from neuroplast.serving.errors import ModelNotServed, NotReady, QueueFull, ServingError
    from neuroplast.serving.explain import Explanations
    from neuroplast.serving.pool import Answer, ModelPool, PoolObserver, ServedModel, ServeSettings
    from neuroplast.serving.predlog import LogEntry, PredictionLog
    from neuroplast.serving.router import Route, Router, unit_hash

__all__ = [
    "Answer",
    "Batcher",
    "Explanations",
    "InputSpec",
    "LogEntry",
    "ModelNotServed",
    "ModelPool",
    "NotReady",
    "PoolObserver",
    "PredictionLog",
    "QueueFull",
    "Route",
    "Router",
    "ServeSettings",
    "ServedModel",
    "ServingError",
    "unit_hash",
]

_HOMES = {
    "Answer": "neuroplast.serving.pool",
    "Batcher": "neuroplast.serving.batcher",
    "Explanations": "neuroplast.serving.explain",
    "InputSpec": "neuroplast.serving._loading",
    "LogEntry": "neuroplast.serving.predlog",
    "ModelNotServed": "neuroplast.serving.errors",
    "ModelPool": "neuroplast.serving.pool",
    "NotReady": "neuroplast.serving.errors",
    "PoolObserver": "neuroplast.serving.pool",
    "PredictionLog": "neuroplast.serving.predlog",
    "QueueFull": "neuroplast.serving.errors",
    "Route": "neuroplast.serving.router",
    "Router": "neuroplast.serving.router",
    "ServeSettings": "neuroplast.serving.pool",
    "ServedModel": "neuroplast.serving.pool",
    "ServingError": "neuroplast.serving.errors",
    "unit_hash": "neuroplast.serving.router",
}

__getattr__, __dir__ = _lazy_exports(__name__, _HOMES, __all__)
