"""The portable files of a model: its ONNX graph, checked against eager PyTorch, the
graph's ONNX Runtime int8 quantization, and a text model's ``tokenizer.json``.

``neuroplast export-onnx`` (:mod:`neuroplast.compression.export`) and ``ensure_onnx``
(:mod:`neuroplast.workflows.serving_artifacts`) both make them here, so the check an
exported graph passes is the same wherever it is made.
"""

from __future__ import annotations

import logging

import numpy as np

from neuroplast.errors import ArtifactError, ConfigError
from neuroplast.inference.bundle import LoadedModel
from neuroplast.inference.inputs import synthetic_inputs
from neuroplast.inference.meta import ONNX, ONNX_INT8, ModelMeta
from neuroplast.inference.onnx_export import export_onnx_bytes, quantize_onnx_int8
from neuroplast.inference.onnx_predictor import OnnxPredictor
from neuroplast.inference.predictor import Predictor
from neuroplast.tokens.hf import TOKENIZER, hf_tokenizer_json

__all__ = [
    "PARITY_ROWS",
    "PARITY_TOLERANCE",
    "check_exportable",
    "check_onnx_parity",
    "onnx_artifacts",
    "tokenizer_file",
]

logger = logging.getLogger(__name__)

#: The largest logit difference allowed between the ONNX graph and eager PyTorch, as a share
#: of the logits' scale (the largest absolute logit, at least 1).
PARITY_TOLERANCE = 1e-4
#: How many of the recorded inputs the graph is checked on.
PARITY_ROWS = 16


def check_exportable(meta: ModelMeta, ref: str) -> None:
    """Refuse a version whose weights cannot be exported as they run: a statically
    quantized one runs torch's int8 kernels from ``model.int8.safetensors``, which the ONNX
    exporter does not read (its graph would be the fp32 parent's)."""
    if meta.compression.get("quantization") == "static":
        raise ConfigError(
            f"{ref} is statically quantized (torch int8 kernels): it cannot be exported to "
            "ONNX the same way. Serve it with --backend torch, or export the version it was "
            "quantized from and quantize that to ONNX int8 (neuroplast export-onnx PARENT --int8)"
        )


def tokenizer_file(loaded: LoadedModel) -> bytes | None:
    """``tokenizer.json`` of a text model with a vocabulary (see :mod:`neuroplast.tokens.hf`);
    None for image models, models trained on token ids, and when Hugging Face ``tokenizers``
    is not installed (logged)."""
    if loaded.meta.modality != "text" or loaded.vocab is None:
        return None
    max_length = int(loaded.meta.preprocessing.get("max_length", 0)) or None
    try:
        return hf_tokenizer_json(loaded.vocab, max_length=max_length).encode("utf-8")
    except ConfigError as e:
        logger.warning("no %s: %s", TOKENIZER, e)
        return None


def check_onnx_parity(
    loaded: LoadedModel, onnx: bytes, *, ref: str, tolerance: float = PARITY_TOLERANCE
) -> float:
    """The largest logit difference between the ONNX graph ``onnx`` and eager PyTorch on
    the first :data:`PARITY_ROWS` of ``ref``'s recorded inputs (see
    :func:`~neuroplast.inference.inputs.synthetic_inputs`), as a share of the logits'
    scale; :class:`ArtifactError` when it is above ``tolerance``."""
    inputs = synthetic_inputs(loaded.meta, rows=PARITY_ROWS)
    reference = Predictor(loaded)
    graph = OnnxPredictor(onnx, loaded.meta, loaded.vocab, threads=1)
    batches = (
        reference.id_batches(inputs.inputs)
        if inputs.kind == "ids"
        else reference.image_batches(inputs.inputs)
    )
    worst = 0.0
    for _, batch in batches:
        expected = np.asarray(reference.run_logits(batch), dtype=np.float32)
        got = np.asarray(graph.run_logits(batch), dtype=np.float32)
        scale = max(1.0, float(np.abs(expected).max()))
        worst = max(worst, float(np.abs(got - expected).max()) / scale)
    if not worst <= tolerance:  # NaN included
        raise ArtifactError(
            f"the ONNX graph of {ref} disagrees with eager PyTorch on its recorded inputs "
            f"(largest logit difference {worst:.2g} of the logits' scale, allowed "
            f"{tolerance:g}); nothing was stored. Serve it with --backend torch and report "
            f"the architecture ({loaded.meta.architecture})"
        )
    logger.debug("ONNX graph of %s agrees with eager torch (%.2g)", ref, worst)
    return worst


def onnx_artifacts(
    loaded: LoadedModel, *, ref: str, int8: bool = False, onnx: bytes | None = None
) -> dict[str, bytes]:
    """The portable files of ``ref``: ``model.onnx`` (exported and checked by
    :func:`check_onnx_parity`; ``onnx``: a graph already stored, used as it is),
    ``model.int8.onnx`` with ``int8`` (ONNX Runtime's dynamic int8 of that graph, checked to
    load), and ``tokenizer.json`` for a text model (:func:`tokenizer_file`)."""
    check_exportable(loaded.meta, ref)
    if onnx is None:
        onnx = export_onnx_bytes(loaded.model, loaded.meta)
        check_onnx_parity(loaded, onnx, ref=ref)
    files = {ONNX: onnx}
    if int8:
        files[ONNX_INT8] = quantize_onnx_int8(onnx)
        OnnxPredictor(files[ONNX_INT8], loaded.meta, loaded.vocab, int8=True, threads=1)
    tokenizer = tokenizer_file(loaded)
    if tokenizer is not None:
        files[TOKENIZER] = tokenizer
    return files
