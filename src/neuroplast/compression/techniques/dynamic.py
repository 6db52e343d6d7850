"""``dynamic``: int8 dynamic quantization of the Linear and LSTM layers (``torch.ao``; weights
int8, activations quantized per call). The version stores fp32 weights and is quantized
again, deterministically, when it loads; it needs no data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neuroplast.compression._registry import CompressionTechnique, CompressJob, register_technique
from neuroplast.compression.candidate import Candidate, state_bytes

if TYPE_CHECKING:
    from neuroplast.inference.bundle import LoadedModel

__all__ = ["DynamicInt8", "dynamic_candidate"]


def dynamic_candidate(loaded: LoadedModel) -> Candidate:
    from neuroplast.inference.predictor import Predictor

    predictor = Predictor(loaded, quantized=True)
    return Candidate(
        technique="dynamic int8",
        model=loaded.model,
        predictor=predictor,
        size_bytes=state_bytes(predictor.model),
        options={"quantization": "dynamic", "dtype": "qint8", "layers": ["Linear", "LSTM"]},
        meta_compression={"quantization": "dynamic"},
    )


@register_technique(
    "dynamic", rank=1, quantization=True, help="dynamic int8 of the Linear and LSTM layers"
)
class DynamicInt8(CompressionTechnique):
    def candidates(self, job: CompressJob, options: Any) -> list[Candidate]:
        return [dynamic_candidate(job.loaded)]
