"""What the :class:`~neuroplast.engine.Engine`'s verb mixins hand their work to.

The Engine is a thin facade split by concern (``_engine_registry``, ``_engine_serving``,
``_engine_encoders``, ``_engine_models``); each mixin reaches the services through these
properties, which the Engine overrides to open each service on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from neuroplast._model_manager import ModelManager
    from neuroplast.compression.optimizer import ModelOptimizer
    from neuroplast.continual.api import ContinualLearnerAPI
    from neuroplast.explain import Explainer
    from neuroplast.registry import Registry

__all__ = ["EngineServices"]


class EngineServices:
    """The services of an Engine (overridden by :class:`~neuroplast.engine.Engine`)."""

    @property
    def registry(self) -> Registry:
        raise NotImplementedError

    @property
    def model_manager(self) -> ModelManager:
        raise NotImplementedError

    @property
    def continual_learner(self) -> ContinualLearnerAPI:
        raise NotImplementedError

    @property
    def optimizer(self) -> ModelOptimizer:
        raise NotImplementedError

    @property
    def explainer(self) -> Explainer:
        raise NotImplementedError
