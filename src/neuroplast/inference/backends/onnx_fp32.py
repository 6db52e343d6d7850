"""``onnx``: ONNX Runtime's CPU provider on the model's fp32 graph (the version's
``model.onnx``, or exported in memory)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast.inference._backends import BackendSource, PredictorBackend, register_backend

if TYPE_CHECKING:
    from neuroplast.inference.base import BasePredictor


@register_backend("onnx", rank=3, onnx="fp32", help="ONNX Runtime, fp32")
class OnnxBackend(PredictorBackend):
    def build(self, source: BackendSource) -> BasePredictor:
        from neuroplast.inference.onnx_predictor import OnnxPredictor

        meta, vocab = source.loaded.meta, source.loaded.vocab
        return OnnxPredictor(
            source.onnx("fp32"), meta, vocab, threads=source.threads, batch_size=source.batch_size
        )
