"""What every Predictor backend shares, in numpy only (no torch): pre-processing, batching,
softmax and top-k.

Texts are tokenized with the model's own vocabulary (cut to the model's ``max_length``
tokens: longer texts, up to any size, are truncated, as in training), sorted by length and
batched with dynamic padding, then put back in input order. Images are checked against the
model's channels and size and normalised as in training. A backend only implements
:meth:`BasePredictor.run_logits` on one padded batch.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neuroplast.errors import DataError
from neuroplast.inference._meta import ModelMeta
from neuroplast.tokens import Vocabulary

__all__ = ["BasePredictor", "Prediction", "load_image_files", "physical_cores"]


@dataclass(frozen=True)
class Prediction:
    label: str
    probability: float
    top_k: list[tuple[str, float]]


def physical_cores() -> int:
    """Physical CPU cores this process may use (hyper-threads counted once, on Linux)."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    cores = set()
    for cpu in allowed:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return max(1, len(allowed))
        cores.add((package, core))
    return max(1, len(cores) or os.cpu_count() or 1)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


class BasePredictor(ABC):
    """Batched inference for one model; subclasses run one batch on their backend."""

    backend: str = "base"

    def __init__(self, meta: ModelMeta, vocab: Vocabulary | None, *, batch_size: int = 256) -> None:
        if batch_size < 1:
            raise DataError(f"batch_size must be at least 1, got {batch_size}")
        self.meta = meta
        self.vocab = vocab
        self.batch_size = batch_size
        self.label_names = list(meta.label_names)
        self.pre = dict(meta.preprocessing)
        self.max_length = int(self.pre.get("max_length", 0)) or None
        self.min_length = int(self.pre.get("min_length", 1))
        #: What ``backend="auto"`` measured when it chose this predictor (else empty).
        self.timings: list[Any] = []

    @property
    def modality(self) -> str:
        return self.meta.modality

    @abstractmethod
    def run_logits(self, batch: np.ndarray) -> np.ndarray:
        """Logits ``[B, K]`` (float32) of one batch: int64 ids ``[B, T]`` or float32 images."""

    # ---- pre-processing ------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        if self.vocab is None and self.modality == "text":
            # trained on token ids through the Python API: predict_proba_ids still works
            raise DataError(
                f"text model {self.meta.name or self.meta.architecture} has no vocabulary "
                "(vocab.json), so it cannot read raw text: pass token ids "
                "(predict_proba_ids), or re-export it with its Vocabulary"
            )
        if self.vocab is None:
            raise DataError("this model takes images, not texts: pass image files")
        return [self.vocab.encode(text, max_length=self.max_length) for text in texts]

    def _check_texts(self, inputs: Sequence[str] | np.ndarray) -> list[str]:
        if isinstance(inputs, str):
            inputs = [inputs]
        texts = [t if isinstance(t, str) else str(t) for t in inputs]
        empty = [i + 1 for i, t in enumerate(texts) if not t.strip()]
        if empty:
            raise DataError(
                f"input {empty[0]} is an empty text ({len(empty)} empty in all); "
                "give each input some words"
            )
        return texts

    def _check_images(self, inputs: Sequence[str] | np.ndarray) -> np.ndarray:
        images = np.asarray(inputs)
        shape = self.pre.get("image_shape")
        if shape:
            channels, size = int(shape[0]), int(shape[1])
        else:
            channels = int(self.meta.arch_config.get("in_channels", 1))
            size = int(self.meta.arch_config.get("image_size", 28))
        if images.ndim == 3 and channels == 1:
            images = images[:, None]
        if images.ndim != 4 or images.shape[1:] != (channels, size, size):
            raise DataError(
                f"images must be uint8 [N, {channels}, {size}, {size}] for this model, got shape "
                f"{images.shape}; read files with load_image_files(..., channels={channels}, "
                f"size={size}), which converts and resizes them"
            )
        if images.dtype != np.uint8:
            raise DataError(f"images must be uint8 pixels 0-255, got dtype {images.dtype}")
        return images

    # ---- running -------------------------------------------------------------------------
    def predict_proba_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Class probabilities ``[N, K]`` for already tokenized texts."""
        n = len(ids)
        out = np.empty((n, len(self.label_names)), dtype=np.float32)
        if n == 1:  # the latency path: no sorting, no copy of the order
            seq = ids[0]
            batch = np.zeros((1, max(self.min_length, len(seq))), dtype=np.int64)
            batch[0, : len(seq)] = seq
            out[:] = softmax(np.asarray(self.run_logits(batch), dtype=np.float32))
            return out
        order = sorted(range(n), key=lambda i: len(ids[i]))
        for start in range(0, n, self.batch_size):
            chunk = order[start : start + self.batch_size]
            width = max(self.min_length, max(len(ids[i]) for i in chunk))
            batch = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                seq = ids[i]
                batch[row, : len(seq)] = seq
            out[chunk] = softmax(np.asarray(self.run_logits(batch), dtype=np.float32))
        return out

    def predict_proba_images(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities ``[N, K]`` for uint8 images ``[N, C, H, W]`` of the model's size."""
        images = self._check_images(images)
        mean = np.float32(self.pre.get("mean", 0.5))
        std = np.float32(self.pre.get("std", 0.5))
        out = np.empty((len(images), len(self.label_names)), dtype=np.float32)
        for start in range(0, len(images), self.batch_size):
            x = images[start : start + self.batch_size].astype(np.float32)
            x = (x / np.float32(255.0) - mean) / std
            logits = np.asarray(self.run_logits(x), dtype=np.float32)
            out[start : start + len(x)] = softmax(logits)
        return out

    def predict_proba(self, inputs: Sequence[str] | np.ndarray) -> np.ndarray:
        """Class probabilities ``[N, K]`` of raw texts, or of uint8 images ``[N, C, H, W]``."""
        if self.modality == "text":
            return self.predict_proba_ids(self.encode(self._check_texts(inputs)))
        return self.predict_proba_images(np.asarray(inputs))

    def predict(self, inputs: Sequence[str] | np.ndarray, *, top_k: int = 1) -> list[Prediction]:
        """The most likely label of each input, with its top ``top_k`` labels."""
        k = len(self.label_names)
        if not 1 <= top_k <= k:
            raise DataError(f"--top-k must be between 1 and the number of classes ({k})")
        probs = self.predict_proba(inputs)
        out = []
        for row in probs:
            best = np.argsort(-row, kind="stable")[:top_k]
            ranked = [(self.label_names[j], float(row[j])) for j in best]
            out.append(Prediction(label=ranked[0][0], probability=ranked[0][1], top_k=ranked))
        return out

    def __repr__(self) -> str:
        name = self.meta.name or self.meta.architecture
        return f"{type(self).__name__}({name}, backend={self.backend!r})"


def load_image_files(paths: Sequence[Path], *, channels: int, size: int) -> np.ndarray:
    """Read image files into uint8 [N, C, size, size], converting mode and size as needed."""
    from PIL import Image, UnidentifiedImageError

    arrays = []
    for path in paths:
        if not path.is_file():
            raise DataError(f"image {path} not found")
        try:
            with Image.open(path) as opened:
                img = opened.convert("L" if channels == 1 else "RGB")
            if img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"cannot read image {path}: {e}; is it a PNG/JPEG file?") from e
        arrays.append(arr[None] if channels == 1 else arr.transpose(2, 0, 1))
    return np.stack(arrays) if arrays else np.empty((0, channels, size, size), np.uint8)
