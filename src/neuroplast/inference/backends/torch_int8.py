"""``torch-int8``: eager PyTorch with the Linear and LSTM layers dynamically quantized to
int8 (``torch.ao``; CPU only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast.inference._backends import BackendSource, PredictorBackend, register_backend

if TYPE_CHECKING:
    from neuroplast.inference.base import BasePredictor


@register_backend("torch-int8", rank=2, help="eager PyTorch, dynamic int8")
class TorchInt8Backend(PredictorBackend):
    def build(self, source: BackendSource) -> BasePredictor:
        from neuroplast.inference.predictor import Predictor

        return Predictor(source.loaded, batch_size=source.batch_size, quantized=True)
