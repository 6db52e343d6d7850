"""``static``: int8 static quantization of the image CNN / MLP paths, its activation ranges
calibrated on real images (the caller's ``data=``, or the model's own training batches).
The calibrated int8 state is stored beside the fp32 bundle (``model.int8.safetensors``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from neuroplast.compression._registry import CompressionTechnique, CompressJob, register_technique
from neuroplast.compression.candidate import Candidate
from neuroplast.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from neuroplast.data.prepare import PreparedData
    from neuroplast.inference.bundle import LoadedModel
    from neuroplast.inference.inputs import SplitInputs
    from neuroplast.inference.meta import ModelMeta

__all__ = ["StaticInt8", "calibration_from_inputs", "static_candidate"]


def calibration_from_inputs(
    inputs: SplitInputs, meta: ModelMeta, *, batches: int = 16, batch_size: int = 64
) -> list[torch.Tensor]:
    """Model-ready image batches from measured ``inputs`` (the caller's ``data=``): uint8
    images normalised as the Predictor does, float ones as they are."""
    import numpy as np
    import torch

    if inputs.kind == "ids":
        raise ConfigError("static int8 calibrates image models; this data holds token ids")
    x = torch.from_numpy(np.asarray(inputs.inputs))
    if inputs.kind == "raw":
        mean = float(meta.preprocessing.get("mean", 0.5))
        std = float(meta.preprocessing.get("std", 0.5))
        x = (x.float() / 255.0 - mean) / std
    return [x[s : s + batch_size].float() for s in range(0, len(x), batch_size)][:batches]


def static_candidate(
    loaded: LoadedModel,
    data: PreparedData | None,
    *,
    batches: int = 16,
    calibration: list[torch.Tensor] | None = None,
) -> Candidate:
    """Static int8 calibrated on ``calibration`` (model-ready image batches, e.g. the
    caller's ``data=``) or else on the first ``batches`` training batches of ``data``."""
    from neuroplast.inference.predictor import Predictor
    from neuroplast.inference.qstate import STATIC_INT8, dump_quantized
    from neuroplast.inference.quantize import calibration_batches, static_int8

    if loaded.meta.modality != "image":
        raise ConfigError(
            "--quantize static applies to the image CNN / MLP paths; use --quantize dynamic "
            "for text models"
        )
    if calibration:
        source, batches = f"data=, {len(calibration)} batches", len(calibration)
    elif data is not None:
        calibration = calibration_batches(data, batches=batches)
        source = f"train, {batches} batches of 64"
    else:
        raise ConfigError(
            f"static int8 calibrates its activation ranges on real images, and "
            f"{loaded.meta.name or 'this model'} was trained through the Python API (no "
            "recorded data config): pass data= (a DataLoader of (images, labels)), or use "
            "quantization_type='dynamic', which needs no data"
        )
    quantized = static_int8(loaded.model, calibration, modality="image")
    stored = dump_quantized(quantized)
    return Candidate(
        technique="static int8",
        model=loaded.model,
        predictor=Predictor(loaded, model=quantized, backend_name="torch-int8-static"),
        size_bytes=len(stored),
        extra_files={STATIC_INT8: stored},
        options={"quantization": "static", "calibration": source},
        meta_compression={"quantization": "static", "calibration_batches": batches},
    )


@register_technique(
    "static", rank=2, quantization=True, help="static int8 of image models, calibrated"
)
class StaticInt8(CompressionTechnique):
    def skipped(self, job: CompressJob, options: Any) -> str | None:
        if job.loaded.meta.modality != "image":
            return "static int8 skipped: it applies to the image CNN / MLP paths"
        if not getattr(job.loaded.model, "supports_static_int8", True):
            return f"static int8 skipped: {job.loaded.meta.architecture} has no static int8 path"
        return None

    def candidates(self, job: CompressJob, options: Any) -> list[Candidate]:
        calibration = None
        if job.data is None and job.test.labels is not None:  # the caller's data=
            calibration = calibration_from_inputs(job.test, job.loaded.meta)
        return [static_candidate(job.loaded, job.data, calibration=calibration)]
