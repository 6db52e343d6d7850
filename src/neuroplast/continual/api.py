"""``Engine.continual_learner``: the seed API for EWC on models held by the model manager,
and continual updates of registered models."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import Tensor

from neuroplast.continual.strategies import ewc_penalty, fisher_information
from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    from neuroplast._model_manager import ModelManager
    from neuroplast.continual.update import UpdateOutcome

__all__ = ["ContinualLearnerAPI"]


class ContinualLearnerAPI:
    """EWC by model id: ``compute_fisher_information`` then ``ewc_loss`` in your own loop."""

    def __init__(self, model_manager: ModelManager) -> None:
        self.model_manager = model_manager
        self._fisher: dict[str, dict[str, Tensor]] = {}

    def compute_fisher_information(
        self, model_id: str, data_loader: Iterable[Any], *, max_samples: int | None = None
    ) -> dict[str, Tensor]:
        """Diagonal Fisher information of the model on ``data_loader`` (``(inputs, labels)``
        batches), kept for :meth:`ewc_loss` and returned (parameter name -> tensor)."""
        model = self.model_manager.get_model(model_id)
        fisher = fisher_information(model, data_loader, max_samples=max_samples)
        self._fisher[model_id] = fisher
        return fisher

    def ewc_loss(self, model_id: str, old_params: dict[str, Tensor], lambda_ewc: float) -> Tensor:
        """``lambda_ewc / 2 * sum F (theta - old_params)^2`` for the model's current weights."""
        fisher = self._fisher.get(model_id)
        if fisher is None:
            raise ConfigError(
                f"no Fisher information for {model_id}: call "
                "compute_fisher_information(model_id, data_loader) first"
            )
        missing = sorted(set(fisher) - set(old_params))
        if missing:
            raise ConfigError(
                f"old_params lacks {', '.join(missing[:3])}: pass "
                "{name: p.detach().clone() for name, p in model.named_parameters()}"
            )
        return ewc_penalty(self.model_manager.get_model(model_id), fisher, old_params, lambda_ewc)

    def update(
        self, model_id: str, data: str | Path, *, strategy: str = "replay", **options: Any
    ) -> UpdateOutcome:
        """What ``neuroplast continual update`` does: a new version that learnt ``data``."""
        from neuroplast.continual.update import update_model

        strategies = [s.strip() for s in strategy.split("+")]
        return update_model(
            self.model_manager.registry, model_id, data, strategies=strategies, **options
        )
