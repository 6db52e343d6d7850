"""The eager PyTorch backends of the Predictor: fp32 (``"torch"``) and dynamic int8
(``"torch-int8"``, ``torch.ao`` quantization of the Linear and LSTM layers).

Pre-processing, batching and top-k are shared with the ONNX Runtime backends
(:class:`~neuroplast.inference._base.BasePredictor`); only one padded batch runs here.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from neuroplast.errors import DataError
from neuroplast.inference._base import BasePredictor, Prediction, load_image_files
from neuroplast.inference.bundle import LoadedModel
from neuroplast.models import logits_of

__all__ = ["Prediction", "Predictor", "load_image_files"]


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
        self.device = device or torch.device("cpu")
        quantized = quantized or loaded.meta.compression.get("quantization") == "dynamic"
        if model is not None:
            self.model: nn.Module = model.eval().to(self.device)
            self.backend = backend_name or "torch"
            return
        model = loaded.model.eval()
        if quantized:
            from neuroplast.compression.quantize import dynamic_int8

            if self.device.type != "cpu":
                raise DataError("the torch-int8 backend runs on the CPU only; pass device=cpu")
            model = dynamic_int8(model)
        self.model = model.to(self.device)
        self.backend = backend_name or ("torch-int8" if quantized else "torch")

    @torch.inference_mode()
    def run_logits(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch)
        logits = logits_of(self.model(x.to(self.device))).float()
        result: np.ndarray = logits.cpu().numpy()
        return result
