"""``torch``: eager PyTorch in fp32, the reference every other backend is checked against."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast.inference._backends import BackendSource, PredictorBackend, register_backend

if TYPE_CHECKING:
    from neuroplast.inference.base import BasePredictor


@register_backend("torch", rank=1, help="eager PyTorch, fp32")
class TorchBackend(PredictorBackend):
    def build(self, source: BackendSource) -> BasePredictor:
        from neuroplast.inference.predictor import Predictor

        return Predictor(source.loaded, batch_size=source.batch_size)
