"""What every Predictor backend shares, in numpy only (no torch): pre-processing, batching,
softmax and top-k.

Texts are tokenized with the model's own vocabulary (cut to the model's ``max_length``
tokens: longer texts, up to any size, are truncated, as in training), sorted by length and
batched with dynamic padding, then put back in input order. Images are checked against the
model's channels and size and normalised as in training. A backend only implements
:meth:`BasePredictor.run_logits` on one padded batch, on a given number of intra-op threads
(by default one thread for batches of at most :data:`SMALL_BATCH` inputs, where waking a
second thread costs more than it saves, and all of the backend's threads above).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from neuroplast.errors import DataError
from neuroplast.inference.meta import ModelMeta
from neuroplast.tokens import Vocabulary

if TYPE_CHECKING:
    from neuroplast.inference.choice import ChoiceTable

__all__ = ["SMALL_BATCH", "BasePredictor", "Prediction", "load_image_files", "physical_cores"]

#: Batches of at most this many inputs run on one intra-op thread unless told otherwise.
SMALL_BATCH = 4

#: Rows of the caller's inputs (in order) and the padded batch that holds them.
Batch = tuple[list[int], np.ndarray]


@dataclass(frozen=True)
class Prediction:
    label: str
    probability: float
    top_k: list[tuple[str, float]]


def physical_cores() -> int:
    """Physical CPU cores this process may use (hyper-threads counted once, on Linux), or
    fewer when ``OMP_NUM_THREADS`` asks for fewer: ONNX Runtime does not read it, and a user
    (or a test worker) who set it expects every backend to keep to it."""
    cores = _cores()
    asked = os.environ.get("OMP_NUM_THREADS", "").strip()
    if asked.isdigit() and int(asked) > 0:
        return min(cores, int(asked))
    return cores


def _cores() -> int:
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
    #: What ``backend="auto"`` measured and chose, batch size by batch size (else None).
    table: ChoiceTable | None = None

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
        #: The intra-op thread counts :meth:`run_logits` can run a batch on (smallest first).
        self.thread_counts: tuple[int, ...] = (1,)

    @property
    def modality(self) -> str:
        return self.meta.modality

    @abstractmethod
    def run_logits(self, batch: np.ndarray, *, threads: int | None = None) -> np.ndarray:
        """Logits ``[B, K]`` (float32) of one batch: int64 ids ``[B, T]`` or float32 images,
        on ``threads`` intra-op threads (one of :attr:`thread_counts`; None: the default,
        :meth:`default_threads`)."""

    def default_threads(self, batch_size: int) -> int:
        """One thread for batches of at most :data:`SMALL_BATCH` inputs, else all of them."""
        return self.thread_counts[0] if batch_size <= SMALL_BATCH else self.thread_counts[-1]

    def check_threads(self, threads: int) -> int:
        if threads not in self.thread_counts:
            counts = " or ".join(map(str, self.thread_counts))
            plural = "s" if self.thread_counts[-1] > 1 else ""
            raise DataError(
                f"the {self.backend} backend can run on {counts} intra-op thread{plural}, "
                f"not {threads}"
            )
        return threads

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

    # ---- batching ------------------------------------------------------------------------
    def id_batches(
        self, ids: Sequence[Sequence[int]], *, batch_size: int | None = None
    ) -> Iterator[Batch]:
        """Padded int64 batches of tokenized texts, sorted by length, at most ``batch_size``
        (default: the predictor's) texts each."""
        size = batch_size or self.batch_size
        n = len(ids)
        if n == 1:  # the latency path: no sorting, no copy of the order
            seq = ids[0]
            batch = np.zeros((1, max(self.min_length, len(seq))), dtype=np.int64)
            batch[0, : len(seq)] = seq
            yield [0], batch
            return
        order = sorted(range(n), key=lambda i: len(ids[i]))
        for start in range(0, n, size):
            chunk = order[start : start + size]
            width = max(self.min_length, max(len(ids[i]) for i in chunk))
            batch = np.zeros((len(chunk), width), dtype=np.int64)
            for row, i in enumerate(chunk):
                seq = ids[i]
                batch[row, : len(seq)] = seq
            yield chunk, batch

    def image_batches(
        self, images: np.ndarray, *, batch_size: int | None = None
    ) -> Iterator[Batch]:
        """Normalised float32 batches of uint8 images, in order, at most ``batch_size`` each."""
        images = self._check_images(images)
        size = batch_size or self.batch_size
        mean = np.float32(self.pre.get("mean", 0.5))
        std = np.float32(self.pre.get("std", 0.5))
        for start in range(0, len(images), size):
            x = images[start : start + size].astype(np.float32)
            yield list(range(start, start + len(x))), (x / np.float32(255.0) - mean) / std

    def batches(
        self, inputs: Sequence[str] | np.ndarray, *, batch_size: int | None = None
    ) -> Iterator[Batch]:
        """The model-ready batches of raw texts or uint8 images, as :meth:`predict_proba`
        runs them."""
        if self.modality == "text":
            return self.id_batches(self.encode(self._check_texts(inputs)), batch_size=batch_size)
        return self.image_batches(np.asarray(inputs), batch_size=batch_size)

    # ---- running -------------------------------------------------------------------------
    def _run(self, batches: Iterator[Batch], n: int) -> np.ndarray:
        out = np.empty((n, len(self.label_names)), dtype=np.float32)
        for rows, batch in batches:
            out[rows] = softmax(np.asarray(self.run_logits(batch), dtype=np.float32))
        return out

    def predict_proba_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Class probabilities ``[N, K]`` for already tokenized texts."""
        return self._run(self.id_batches(ids), len(ids))

    def predict_proba_images(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities ``[N, K]`` for uint8 images ``[N, C, H, W]`` of the model's size."""
        images = self._check_images(images)
        return self._run(self.image_batches(images), len(images))

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

    from neuroplast._pixels import pixel_limit_guard

    arrays = []
    for path in paths:
        if path.is_dir():
            raise DataError(f"image {path} is a directory; pass the image files themselves")
        if not path.is_file():
            what = "not a regular file" if path.exists() else "not found"
            raise DataError(f"image {path} {what}; pass a PNG/JPEG file")
        try:
            with pixel_limit_guard(path), Image.open(path) as opened:
                img = opened.convert("L" if channels == 1 else "RGB")
            if img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"cannot read image {path}: {e}; is it a PNG/JPEG file?") from e
        arrays.append(arr[None] if channels == 1 else arr.transpose(2, 0, 1))
    return np.stack(arrays) if arrays else np.empty((0, channels, size, size), np.uint8)
