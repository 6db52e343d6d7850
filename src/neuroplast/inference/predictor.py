"""Raw inputs in, labels and probabilities out: the one inference path of the CLI and API.

Texts are tokenized with the model's own vocabulary, sorted by length and batched with
dynamic padding (so a batch costs what its longest text costs), then put back in input
order. Images are converted to the model's channels and size and normalised as in training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from neuroplast.errors import DataError
from neuroplast.inference.bundle import LoadedModel
from neuroplast.models import logits_of

__all__ = ["Prediction", "Predictor", "load_image_files"]


@dataclass(frozen=True)
class Prediction:
    label: str
    probability: float
    top_k: list[tuple[str, float]]


class Predictor:
    """Batched inference for one loaded model (eager PyTorch on the CPU or Fabric's device)."""

    def __init__(
        self, loaded: LoadedModel, *, batch_size: int = 256, device: torch.device | None = None
    ) -> None:
        self.loaded = loaded
        self.batch_size = batch_size
        self.device = device or torch.device("cpu")
        self.model = loaded.model.to(self.device).eval()
        self.label_names = list(loaded.meta.label_names)
        self.pre = dict(loaded.meta.preprocessing)

    @property
    def modality(self) -> str:
        return self.loaded.meta.modality

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        if self.loaded.vocab is None:
            raise DataError("this model takes images, not texts: pass image files")
        return self.loaded.vocab.encode_batch(list(texts), max_length=int(self.pre["max_length"]))

    @torch.inference_mode()
    def predict_proba_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Class probabilities [N, K] for already tokenized texts."""
        n = len(ids)
        out = np.empty((n, len(self.label_names)), dtype=np.float32)
        order = sorted(range(n), key=lambda i: len(ids[i]))
        min_length = int(self.pre.get("min_length", 1))
        for start in range(0, n, self.batch_size):
            chunk = order[start : start + self.batch_size]
            width = max(min_length, max(len(ids[i]) for i in chunk))
            batch = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                seq = ids[i]
                if seq:
                    batch[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
            logits = logits_of(self.model(batch.to(self.device))).float()
            out[chunk] = F.softmax(logits, dim=1).cpu().numpy()
        return out

    @torch.inference_mode()
    def predict_proba_images(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities [N, K] for uint8 images [N, C, H, W] of the model's size."""
        mean, std = float(self.pre.get("mean", 0.5)), float(self.pre.get("std", 0.5))
        out = []
        for start in range(0, len(images), self.batch_size):
            x = torch.from_numpy(np.ascontiguousarray(images[start : start + self.batch_size]))
            x = (x.float() / 255.0 - mean) / std
            logits = logits_of(self.model(x.to(self.device))).float()
            out.append(F.softmax(logits, dim=1).cpu().numpy())
        if not out:
            return np.empty((0, len(self.label_names)), dtype=np.float32)
        return np.concatenate(out)

    def predict_proba(self, inputs: Sequence[str] | np.ndarray) -> np.ndarray:
        if self.modality == "text":
            texts = [str(t) for t in inputs]
            empty = [i + 1 for i, t in enumerate(texts) if not t.strip()]
            if empty:
                raise DataError(
                    f"input {empty[0]} is an empty text ({len(empty)} empty in all); "
                    "give each input some words"
                )
            return self.predict_proba_ids(self.encode(texts))
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
