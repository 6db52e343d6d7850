"""``onnx-int8``: ONNX Runtime's CPU provider on the model's int8 graph (the version's
``model.int8.onnx``, or the fp32 graph quantized in memory)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from neuroplast.inference._backends import BackendSource, PredictorBackend, register_backend

if TYPE_CHECKING:
    from neuroplast.inference.base import BasePredictor


@register_backend("onnx-int8", rank=4, onnx="int8", help="ONNX Runtime, dynamic int8")
class OnnxInt8Backend(PredictorBackend):
    def build(self, source: BackendSource) -> BasePredictor:
        from neuroplast.inference.onnx_predictor import OnnxPredictor

        return OnnxPredictor(
            source.onnx("int8"),
            source.loaded.meta,
            source.loaded.vocab,
            int8=True,
            threads=source.threads,
            batch_size=source.batch_size,
        )
