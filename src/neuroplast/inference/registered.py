"""A Predictor for a registered version, on any backend.

ONNX backends use the version's own ``model.onnx`` / ``model.int8.onnx`` when it has them
(verified by sha256) and export in memory otherwise. ``auto`` measures on real inputs: the
caller's, or else the first validation inputs of the model's own data. Versions made by
``--quantize static`` load their calibrated int8 state from ``model.int8.safetensors``
(versions registered before that file existed are re-calibrated on the recorded training
batches, which needs their data).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import cast

import numpy as np
import torch

from neuroplast.errors import ConfigError, NeuroplastError
from neuroplast.inference._backends import check_backend
from neuroplast.inference.auto import create_predictor
from neuroplast.inference.base import BasePredictor
from neuroplast.inference.bundle import LoadedModel, load_bundle
from neuroplast.inference.inputs import model_data, recorded_inputs, split_inputs
from neuroplast.inference.meta import ONNX, ONNX_INT8
from neuroplast.registry import Registry, VersionRecord
from neuroplast.registry.artifacts import read_verified

__all__ = ["load_registered", "registered_predictor"]

logger = logging.getLogger(__name__)

SAMPLE_SIZE = 64


def load_registered(registry: Registry, ref: str) -> tuple[VersionRecord, LoadedModel]:
    """Resolve ``ref`` and load its bundle, verifying every file's hash."""
    version = registry.ensure_local(registry.resolve(ref))
    if version.architecture == "vector_index":  # neuroplast.encoders.index's versions
        raise ConfigError(
            f"{version.ref} is a vector index (texts and their sentence vectors), not a "
            "model: it makes no predictions; query it with `neuroplast search "
            f'{version.model_name} "QUERY"` (Engine.search); predict, evaluate, explain, '
            "compress and serve take a model trained with `neuroplast train`"
        )
    hashes = {name: a.sha256 for name, a in version.artifacts.items() if "/" not in name}
    return version, load_bundle(version.artifact_dir, hashes)


def _artifact_bytes(version: VersionRecord, name: str) -> bytes | None:
    artifact = version.artifacts.get(name)
    if artifact is None:
        return None
    return read_verified(artifact.path, artifact.sha256, fix=f"re-export {version.ref}")


def _static_predictor(version: VersionRecord, loaded: LoadedModel) -> BasePredictor:
    from neuroplast.inference.predictor import Predictor
    from neuroplast.inference.qstate import STATIC_INT8, load_quantized
    from neuroplast.inference.quantize import calibration_batches, static_int8

    stored = _artifact_bytes(version, STATIC_INT8)
    if stored is None:  # registered before the int8 state was stored: calibrate again
        batches = int(loaded.meta.compression.get("calibration_batches", 16))
        data = model_data(loaded.meta, loaded.vocab, needed_for="static int8 calibration")
        calibration = calibration_batches(data, batches=batches)
        quantized = static_int8(loaded.model, calibration, modality="image")
        return Predictor(loaded, model=quantized, backend_name="torch-int8-static")
    shape = recorded_inputs(loaded.meta)["shape"]  # [C, H, W]
    # any calibration gives the quantized graph; the stored state then replaces its numbers
    structure = static_int8(loaded.model, [torch.zeros(1, *map(int, shape))], modality="image")
    model = load_quantized(structure, stored, source=f"{version.ref}/{STATIC_INT8}")
    return Predictor(loaded, model=model, backend_name="torch-int8-static")


def registered_predictor(
    registry: Registry,
    ref: str,
    *,
    backend: str = "torch",
    sample: Sequence[str] | np.ndarray | None = None,
    batch_size: int = 256,
    threads: int | None = None,
    preloaded: tuple[VersionRecord, LoadedModel] | None = None,
    max_batch: int = 64,
    remeasure: bool = False,
) -> BasePredictor:
    """The Predictor of ``ref`` on ``backend`` (``auto`` picks the fastest that agrees, per
    batch size up to ``max_batch``, cached per machine under ``HOME/cache/auto``;
    ``remeasure`` measures again); ``threads`` sets ONNX Runtime's intra-op threads
    (default: the physical cores). ``preloaded`` is ``ref``'s version and bundle when the
    caller has loaded them already."""
    check_backend(backend)
    version, loaded = preloaded or load_registered(registry, ref)
    quantization = loaded.meta.compression.get("quantization")
    if quantization == "static":
        return _static_predictor(version, loaded)
    if backend == "auto" and (sample is None or len(sample) == 0):
        try:
            data = model_data(loaded.meta, loaded.vocab)
            # a split's inputs are raw texts or uint8 images
            sample = cast(Sequence[str], split_inputs(data, "val", limit=SAMPLE_SIZE).inputs)
        except NeuroplastError as e:
            logger.warning("no sample of real inputs for backend auto (%s); using torch", e)
            backend = "torch"
    return create_predictor(
        loaded,
        backend=backend,
        sample=sample,
        onnx_model=_artifact_bytes(version, ONNX),
        onnx_int8=_artifact_bytes(version, ONNX_INT8),
        batch_size=batch_size,
        threads=threads,
        max_batch=max_batch,
        cache_dir=registry.home / "cache" / "auto",
        model_uid=version.uid,
        remeasure=remeasure,
    )
