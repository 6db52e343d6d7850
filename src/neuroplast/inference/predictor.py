"""The eager PyTorch backends of the Predictor: fp32 (``"torch"``) and dynamic int8
(``"torch-int8"``, ``torch.ao`` quantization of the Linear and LSTM layers).

Pre-processing, batching and top-k are shared with the ONNX Runtime backends
(:class:`~neuroplast.inference.base.BasePredictor`); only one padded batch runs here, on one
intra-op thread or on all of torch's (``torch.get_num_threads()`` when the Predictor is
built): one thread for batches of at most ``SMALL_BATCH`` inputs unless told otherwise. On a
2-core machine shared with other work, torch's two-thread OpenMP team waits for a thread that
has no core, and a single input ran many times slower than on one thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from neuroplast.errors import DataError
from neuroplast.inference.base import BasePredictor, Prediction, load_image_files
from neuroplast.inference.bundle import LoadedModel
from neuroplast.models import logits_of

__all__ = ["Prediction", "Predictor", "load_image_files", "torch_threads"]


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block on ``threads`` torch intra-op threads, then restore the count (about a
    microsecond each way; the count is per calling thread under OpenMP)."""
    before = torch.get_num_threads()
    if threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Predictor(BasePredictor):
    """Batched eager inference for one loaded model (CPU, or Fabric's device).

    ``quantized=True`` (or a version compressed with ``--quantize dynamic``) runs a
    dynamically quantized int8 copy of the model (CPU only); ``model`` runs another module
    built from ``loaded`` (a statically quantized or pruned one) under ``backend_name``.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        batch_size: int = 256,
        device: torch.device | None = None,
        quantized: bool = False,
        model: nn.Module | None = None,
        backend_name: str | None = None,
    ) -> None:
        super().__init__(loaded.meta, loaded.vocab, batch_size=batch_size)
        self.loaded = loaded
        self.thread_counts = tuple(sorted({1, torch.get_num_threads()}))
        self.device = device or torch.device("cpu")
        quantized = quantized or loaded.meta.compression.get("quantization") == "dynamic"
        if model is not None:
            self.model: nn.Module = model.eval().to(self.device)
            self.backend = backend_name or "torch"
            return
        model = loaded.model.eval()
        if quantized:
            from neuroplast.inference.quantize import dynamic_int8

            if self.device.type != "cpu":
                raise DataError("the torch-int8 backend runs on the CPU only; pass device=cpu")
            model = dynamic_int8(model)
        self.model = model.to(self.device)
        self.backend = backend_name or ("torch-int8" if quantized else "torch")

    @torch.inference_mode()
    def run_logits(self, batch: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        count = self.default_threads(len(batch)) if threads is None else self.check_threads(threads)
        x = torch.from_numpy(batch)
        with torch_threads(count):
            logits = logits_of(self.model(x.to(self.device))).float()
        result: np.ndarray = logits.cpu().numpy()
        return result
