"""What the drift tests compare, per input: the model's pooled representation (the input of
its classifier head), its confidence and predicted class, and cheap input statistics (a
text's length and unknown-token rate, an image's mean and spread of pixels).

The pooled features come from a forward pre-hook on the model's head, so no architecture
file changes: every registered architecture ends in ``self.classifier`` (an
``nn.Linear``), and a model without one falls back to its last ``nn.Linear``. Inputs are
batched exactly as a Predictor batches them (:meth:`BasePredictor.batches`: the same
vocabulary, truncation and image normalisation), then run through the eager PyTorch model.
An ONNX-served version logs its texts too, so its features are computed here, offline.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from neuroplast.errors import DataError

if TYPE_CHECKING:
    from torch import nn

    from neuroplast.inference.bundle import LoadedModel

__all__ = [
    "FeatureExtractor",
    "InputFeatures",
    "classifier_head",
    "decode_thumbnails",
    "pixel_statistics",
    "text_statistics",
]


@dataclass(frozen=True)
class InputFeatures:
    """Per input: pooled features ``[N, D]``, probabilities ``[N, K]``, and the named
    one-number statistics (``length``, ``oov_rate`` or ``pixel_mean``, ``pixel_std``)."""

    features: np.ndarray
    probabilities: np.ndarray
    statistics: dict[str, np.ndarray]

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        return self.probabilities.max(axis=1)


def classifier_head(model: nn.Module) -> nn.Module:
    """The module whose input is the pooled representation: ``model.classifier``, or else
    the last ``nn.Linear``."""
    from torch import nn

    head = getattr(model, "classifier", None)
    if isinstance(head, nn.Module):
        return head
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise DataError(
            f"{type(model).__name__} has no classifier head (no .classifier, no nn.Linear), "
            "so its pooled features cannot be read"
        )
    return linears[-1]


def text_statistics(loaded: LoadedModel, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Each text's token count and share of tokens outside the model's vocabulary."""
    vocab = loaded.vocab
    if vocab is None:
        raise DataError("this text model has no vocabulary, so its inputs cannot be read")
    lengths = np.empty(len(texts), dtype=np.float32)
    oov = np.empty(len(texts), dtype=np.float32)
    for i, text in enumerate(texts):
        ids = vocab.encode(text)
        lengths[i] = len(ids)
        oov[i] = ids.count(vocab.unk_index) / len(ids) if ids else 0.0
    return {"length": lengths, "oov_rate": oov}


def pixel_statistics(images: np.ndarray) -> dict[str, np.ndarray]:
    """Each uint8 image's mean and standard deviation of pixels (0-255)."""
    flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    return {"pixel_mean": flat.mean(axis=1), "pixel_std": flat.std(axis=1)}


def decode_thumbnails(urls: Sequence[str], *, channels: int, size: int) -> np.ndarray:
    """The log's PNG data URLs back to uint8 ``[N, C, size, size]``. The server keeps
    images of at most 64 pixels a side whole (PNG is lossless), so for those this is the
    served image; larger ones were shrunk to 64 pixels and are scaled back up here, so their
    features and pixel statistics are an approximation of the served inputs'."""
    from PIL import Image, UnidentifiedImageError

    out = np.empty((len(urls), channels, size, size), dtype=np.uint8)
    for i, url in enumerate(urls):
        head, _, payload = url.partition(",")
        try:
            if not head.startswith("data:image/"):
                raise ValueError("not an image data URL")
            with Image.open(io.BytesIO(base64.b64decode(payload, validate=True))) as opened:
                image = opened.convert("L" if channels == 1 else "RGB")
        except (ValueError, binascii.Error, UnidentifiedImageError, OSError) as e:
            raise DataError(f"logged thumbnail {i} cannot be read: {e}") from e
        if image.size != (size, size):
            image = image.resize((size, size), Image.Resampling.BILINEAR)
        pixels = np.asarray(image, dtype=np.uint8)
        out[i] = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    return out


class FeatureExtractor:
    """Pooled features, probabilities and input statistics of a loaded model:
    ``FeatureExtractor(loaded).extract(texts_or_uint8_images)``."""

    def __init__(self, loaded: LoadedModel, *, batch_size: int = 256) -> None:
        from neuroplast.inference.predictor import Predictor

        self.loaded = loaded
        self.predictor = Predictor(loaded, batch_size=batch_size)
        self.head = classifier_head(self.predictor.model)

    @property
    def modality(self) -> str:
        return self.predictor.modality

    def extract(self, inputs: Sequence[str] | np.ndarray) -> InputFeatures:
        import torch

        from neuroplast.inference.base import softmax
        from neuroplast.models import logits_of

        n = len(inputs)
        captured: list[torch.Tensor] = []

        def keep_input(_module: nn.Module, args: tuple[Any, ...]) -> None:
            captured.append(args[0].detach().flatten(1))

        features: np.ndarray | None = None
        probs = np.empty((n, len(self.predictor.label_names)), dtype=np.float32)
        handle = self.head.register_forward_pre_hook(keep_input)
        try:
            with torch.inference_mode():
                for rows, batch in self.predictor.batches(inputs):
                    captured.clear()
                    logits = logits_of(self.predictor.model(torch.from_numpy(batch))).float()
                    pooled = captured[-1].float().cpu().numpy()
                    if features is None:
                        features = np.empty((n, pooled.shape[1]), dtype=np.float32)
                    features[rows] = pooled
                    probs[rows] = softmax(logits.cpu().numpy())
        finally:
            handle.remove()
        if features is None:
            raise DataError("no inputs to compute features of")
        if self.modality == "text":
            statistics = text_statistics(self.loaded, [str(t) for t in inputs])
        else:
            statistics = pixel_statistics(np.asarray(inputs))
        return InputFeatures(features, probs, statistics)
