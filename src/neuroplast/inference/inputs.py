"""The inputs compression measures on.

In order of preference:

1. the caller's labelled batches (``data=``: a DataLoader or any iterable of ``(inputs,
   labels)``, inputs as the model takes them: token ids ``[B, T]`` or images), which give
   the accuracy columns;
2. the model's own test split, re-created from the data config it was trained with
   (models trained by ``neuroplast train``), which gives them too;
3. inputs shaped like the model's own, built from what training recorded in the bundle's
   ``preprocessing["inputs"]`` (models trained through the Python API on the caller's
   loaders): size and speed only, the accuracy is not measured.

The record (see :func:`record_inputs`) is ``{"kind": "token_ids", "dtype": "int64",
"shape": [T], "sample": [[ids], ...]}`` for text models (the width of the first training
batch and its first rows) and ``{"kind": "image", "dtype": "float32", "shape": [C, H, W]}``
for image models.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from neuroplast.config import DataConfig
from neuroplast.data import ImageData, TextData
from neuroplast.data.prepare import PreparedData, Split, prepare
from neuroplast.errors import ConfigError, DataError
from neuroplast.inference.meta import ModelMeta
from neuroplast.tokens import Vocabulary

if TYPE_CHECKING:
    from neuroplast.inference.base import BasePredictor

__all__ = [
    "INPUTS",
    "NOT_MEASURED",
    "SplitInputs",
    "caller_inputs",
    "measurement_inputs",
    "model_data",
    "record_inputs",
    "recorded_inputs",
    "split_inputs",
    "synthetic_inputs",
]

#: The key of ``ModelMeta.preprocessing`` that holds what training recorded of the inputs.
INPUTS = "inputs"
#: The note a table without accuracy carries.
NOT_MEASURED = (
    "accuracy not measured: pass data= (a DataLoader of (inputs, labels)) to measure it; "
    "size and speed were measured on inputs shaped like the model's own"
)
#: Rows of the first training batch kept in the record (text models).
SAMPLE_ROWS = 8
#: How many synthetic inputs the speed columns are measured on.
SYNTHETIC_ROWS = 128

InputKind = Literal["raw", "ids", "tensors"]


@dataclass(frozen=True)
class SplitInputs:
    """Inputs to measure on and their labels (None: accuracy cannot be measured).

    ``kind`` says what ``inputs`` hold: ``raw`` texts or uint8 images ``[N, C, H, W]`` (what
    a Predictor reads), ``ids`` token id rows, or ``tensors``, float32 images already
    normalised as in training. ``source`` says where they came from, for the notes.
    """

    #: list[str] or uint8 np.ndarray (raw), list[list[int]] (ids), float32 np.ndarray (tensors)
    inputs: Any
    labels: np.ndarray | None
    kind: InputKind = "raw"
    source: str = "test split"

    def __len__(self) -> int:
        return len(self.inputs)

    def head(self, n: int) -> SplitInputs:
        labels = None if self.labels is None else self.labels[:n]
        return replace(self, inputs=self.inputs[:n], labels=labels)

    def predict_proba(self, predictor: BasePredictor, inputs: Any = None) -> np.ndarray:
        """``predictor``'s class probabilities for ``inputs`` (default: all of them), which
        are of this object's ``kind``."""
        x: Any = self.inputs if inputs is None else inputs
        if self.kind == "ids":
            return predictor.predict_proba_ids(x)
        if self.kind == "tensors":
            from neuroplast.inference.base import softmax

            step = predictor.batch_size
            parts = [
                softmax(np.asarray(predictor.run_logits(x[s : s + step]), dtype=np.float32))
                for s in range(0, len(x), step)
            ]
            return np.concatenate(parts) if parts else np.empty((0, len(predictor.label_names)))
        return predictor.predict_proba(x)


def model_data(
    meta: ModelMeta, vocab: Vocabulary | None, *, needed_for: str = "a test split"
) -> PreparedData:
    """The splits the model was trained on, re-created from its data config (the same
    seed and limit, so the test split holds no training example). ``needed_for`` names
    what the caller needs them for, in the error raised when there is no data config."""
    if not meta.data:
        raise ConfigError(
            f"{meta.name or meta.architecture} was trained on data neuroplast did not load "
            f"(Python API loaders), so there is no {needed_for}"
        )
    cfg = DataConfig.model_validate(meta.data)
    return prepare(cfg, vocab=vocab)


def split_inputs(data: PreparedData, split: Split, *, limit: int | None = None) -> SplitInputs:
    idx = data.indices(split)[:limit]
    labels = data.raw.labels[idx]
    if isinstance(data.raw, TextData):
        return SplitInputs([data.raw.texts[i] for i in idx], labels, source=f"{split} split")
    if isinstance(data.raw, ImageData):
        images = np.ascontiguousarray(data.raw.images[idx])
        return SplitInputs(images, labels, source=f"{split} split")
    raise ConfigError(f"unsupported data {type(data.raw).__name__}")


# ---- what training records -------------------------------------------------------------------
def _numpy(x: Any) -> np.ndarray:
    """A CPU numpy array of a tensor (torch or numpy) or nested lists."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def record_inputs(inputs: Any, modality: str, *, rows: int = SAMPLE_ROWS) -> dict[str, Any]:
    """What to record of one training batch ``inputs`` (``[B, T]`` ids or ``[B, C, H, W]``)."""
    array = _numpy(inputs)
    spec: dict[str, Any] = {"dtype": str(array.dtype), "shape": [int(d) for d in array.shape[1:]]}
    if modality == "text":
        spec["kind"] = "token_ids"
        spec["sample"] = array[:rows].astype(np.int64).tolist()
    else:
        spec["kind"] = "image"
    return spec


def recorded_inputs(meta: ModelMeta) -> dict[str, Any]:
    """The inputs training recorded (see the module doc), or, for a model saved without
    training, the shape its configuration implies (text: ``max_seq_length`` up to 64 ids)."""
    recorded = meta.preprocessing.get(INPUTS)
    if isinstance(recorded, dict) and recorded.get("shape"):
        return recorded
    config = meta.arch_config
    if meta.modality == "text":
        width = max(int(meta.preprocessing.get("min_length", 1)), 1)
        length = min(int(config.get("max_seq_length", 64) or 64), 64)
        return {"kind": "token_ids", "dtype": "int64", "shape": [max(width, length)]}
    shape = meta.preprocessing.get("image_shape")
    if shape:
        channels, size = int(shape[0]), int(shape[1])
    else:
        channels, size = int(config.get("in_channels", 1)), int(config.get("image_size", 28))
    return {"kind": "image", "dtype": "float32", "shape": [channels, size, size]}


def synthetic_inputs(meta: ModelMeta, *, rows: int = SYNTHETIC_ROWS, seed: int = 0) -> SplitInputs:
    """``rows`` unlabelled inputs shaped like the model's own: the recorded token id rows
    repeated (or seeded random ids of the recorded width), or seeded random uint8 images of
    the recorded shape."""
    spec = recorded_inputs(meta)
    rng = np.random.default_rng(seed)
    if meta.modality == "text":
        sample = [list(map(int, r)) for r in spec.get("sample") or []]
        if not sample:
            vocab_size = max(int(meta.arch_config.get("vocab_size", 3)), 3)
            width = int(spec["shape"][0])
            sample = rng.integers(2, vocab_size, size=(SAMPLE_ROWS, width)).tolist()
        ids = [sample[i % len(sample)] for i in range(rows)]
        return SplitInputs(ids, None, kind="ids", source="inputs shaped like the training batches")
    channels, height, width = (int(d) for d in spec["shape"])
    images = rng.integers(0, 256, size=(rows, channels, height, width), dtype=np.uint8)
    return SplitInputs(images, None, source="random images of the model's input shape")


# ---- the caller's data -----------------------------------------------------------------------
def caller_inputs(data: Iterable[Any], meta: ModelMeta, *, limit: int | None = None) -> SplitInputs:
    """The labelled inputs of ``data`` (``(inputs, labels)`` batches, as the model takes
    them), checked against the model: integer ids below its vocabulary size for text
    models, its image shape for image models, labels among its classes."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    count = 0
    for number, batch in enumerate(data, start=1):
        if not isinstance(batch, list | tuple) or len(batch) < 2:
            raise DataError(
                f"data= must yield (inputs, labels) batches, like a DataLoader over a "
                f"TensorDataset(inputs, labels); batch {number} is {type(batch).__name__}"
            )
        x, y = _numpy(batch[0]), _numpy(batch[1]).reshape(-1)
        if len(x) != len(y):
            raise DataError(f"data= batch {number} has {len(x)} inputs but {len(y)} labels")
        xs.append(x)
        ys.append(y)
        count += len(y)
        if limit is not None and count >= limit:
            break
    if not count:
        raise DataError("data= holds no labelled inputs: give at least one (inputs, labels) batch")
    labels = np.concatenate(ys)[:limit].astype(np.int64)
    k = len(meta.label_names)
    if labels.min() < 0 or labels.max() >= k:
        raise DataError(
            f"data= has labels {int(labels.min())}..{int(labels.max())} but the model has {k} "
            f"classes (0..{k - 1})"
        )
    if meta.modality == "text":
        return _caller_ids(xs, labels, meta)
    return _caller_images(xs, labels, meta)


def _caller_ids(xs: list[np.ndarray], labels: np.ndarray, meta: ModelMeta) -> SplitInputs:
    if any(x.ndim != 2 or not np.issubdtype(x.dtype, np.integer) for x in xs):
        bad = next(x for x in xs if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer))
        raise DataError(
            "a text model takes token ids [batch, seq_len] (integers, PAD = 0) from data=, "
            f"got {bad.dtype} of shape {tuple(bad.shape)}"
        )
    rows = [[int(t) for t in row] for x in xs for row in x][: len(labels)]
    vocab_size = int(meta.arch_config.get("vocab_size", 0))
    high = max((max(r) for r in rows if r), default=0)
    low = min((min(r) for r in rows if r), default=0)
    if low < 0 or (vocab_size and high >= vocab_size):
        raise DataError(f"data= has token ids {low}..{high}; this model takes 0..{vocab_size - 1}")
    return SplitInputs(rows, labels, kind="ids", source="data=")


def _caller_images(xs: list[np.ndarray], labels: np.ndarray, meta: ModelMeta) -> SplitInputs:
    expected = tuple(int(d) for d in recorded_inputs(meta)["shape"])
    images = np.concatenate(xs)[: len(labels)]
    if images.ndim == 3 and expected[0] == 1:
        images = images[:, None]
    if images.shape[1:] != expected:
        raise DataError(
            f"data= has images of shape {tuple(images.shape[1:])}; this model takes {expected}"
        )
    if images.dtype == np.uint8:
        return SplitInputs(np.ascontiguousarray(images), labels, source="data=")
    return SplitInputs(
        np.ascontiguousarray(images, dtype=np.float32), labels, kind="tensors", source="data="
    )


def measurement_inputs(
    meta: ModelMeta,
    own: PreparedData | None,
    *,
    data: Iterable[Any] | None = None,
    limit: int | None = None,
) -> SplitInputs:
    """What to measure on (see the module doc): the caller's ``data``, else the test split
    of the model's ``own`` data (:func:`model_data`, None when it has no data config), else
    inputs shaped like its own (unlabelled)."""
    if data is not None:
        return caller_inputs(data, meta, limit=limit)
    if own is not None:
        return split_inputs(own, "test", limit=limit)
    synthetic = synthetic_inputs(meta)
    return synthetic.head(limit) if limit else synthetic
