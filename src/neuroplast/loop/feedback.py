"""The loop's labelled data: logged inputs that users gave feedback on.

Each labelled input is the text the server logged, or the image read back from its
thumbnail (lossless for images of at most 64 pixels a side; larger ones were shrunk to 64
and are scaled back up, an approximation). A fixed share is held back for the gate by a hash
of the request id and item, so an input is held back in every loop step or in none: no
candidate is ever judged on what an earlier one learned from.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from neuroplast.errors import DataError

if TYPE_CHECKING:
    from neuroplast.data import ImageData, TextData
    from neuroplast.inference import LoadedModel
    from neuroplast.registry import Registry
    from neuroplast.registry.traffic import PredictionRecord

__all__ = ["FeedbackSet", "collect_feedback", "held_back", "image_shape", "labelled_data"]

#: Logged inputs read per labelled input wanted (feedback usually comes for a fraction).
_SCAN_FACTOR = 10
_SCAN_MAX = 100_000


def held_back(request_id: str, item: int, fraction: float) -> bool:
    """Whether this input belongs to the gate's held-back share (stable across steps)."""
    digest = hashlib.sha256(f"{request_id}\x00{item}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


@dataclass(frozen=True)
class FeedbackSet:
    """The labelled inputs since ``since`` (newest first), split into ``train`` and
    ``holdout``; ``new_classes``: labels the serving version lacks (kept only when allowed),
    ``dropped``: inputs left out because their label is new and new classes are not."""

    since: datetime | None
    train: list[PredictionRecord]
    holdout: list[PredictionRecord]
    new_classes: list[str]
    dropped: int

    @property
    def total(self) -> int:
        return len(self.train) + len(self.holdout)

    def counts(self) -> dict[str, Any]:
        labels = Counter(r.feedback for r in [*self.train, *self.holdout])
        return {
            "labelled": self.total,
            "train": len(self.train),
            "holdout": len(self.holdout),
            "classes": dict(sorted(labels.items())),
            "new_classes": list(self.new_classes),
            "dropped_new_class_rows": self.dropped,
            "since": None if self.since is None else self.since.isoformat(),
        }


def collect_feedback(
    registry: Registry,
    model: str,
    *,
    since: datetime | None,
    max_rows: int,
    holdout: float,
    known: Sequence[str],
    allow_new_classes: bool,
) -> FeedbackSet:
    """The newest ``max_rows`` labelled inputs of ``model`` logged since ``since``."""
    scan = min(max_rows * _SCAN_FACTOR, _SCAN_MAX)
    rows = [r for r in registry.predictions(model, since=since, limit=scan) if r.feedback]
    rows = rows[:max_rows]
    names = set(known)
    new = sorted({str(r.feedback) for r in rows} - names)
    dropped = 0
    if new and not allow_new_classes:
        dropped = sum(r.feedback not in names for r in rows)
        rows = [r for r in rows if r.feedback in names]
    train: list[PredictionRecord] = []
    test: list[PredictionRecord] = []
    for r in rows:
        (test if held_back(r.request_id, r.item, holdout) else train).append(r)
    return FeedbackSet(since, train, test, new if allow_new_classes else [], dropped)


def image_shape(loaded: LoadedModel) -> tuple[int, int]:
    """(channels, size) of the images the model reads."""
    shape = loaded.meta.preprocessing.get("image_shape")
    if shape:
        return int(shape[0]), int(shape[1])
    config = loaded.meta.arch_config
    return int(config.get("in_channels", 1)), int(config.get("image_size", 28))


def model_inputs(rows: Sequence[PredictionRecord], loaded: LoadedModel) -> list[str] | np.ndarray:
    """The logged inputs as a predictor takes them: texts, or uint8 ``[N, C, H, W]``."""
    if loaded.meta.modality == "text":
        texts = [r.input_text for r in rows]
        if any(t is None for t in texts):
            raise DataError(
                f"the log of {loaded.meta.name} holds inputs without their text; the loop "
                "needs the logged inputs (serve with the prediction log on)"
            )
        return [str(t) for t in texts]
    from neuroplast.monitoring.features import decode_thumbnails

    thumbs = [r.thumbnail for r in rows]
    if any(t is None for t in thumbs):
        raise DataError(
            f"the log of {loaded.meta.name} holds images without a thumbnail; the loop needs "
            "the logged inputs (serve with the prediction log on)"
        )
    channels, size = image_shape(loaded)
    return decode_thumbnails([str(t) for t in thumbs], channels=channels, size=size)


def labelled_data(
    rows: Sequence[PredictionRecord], loaded: LoadedModel, source: str
) -> TextData | ImageData:
    """``rows`` as a labelled data set whose classes are the model's (in its order) and then
    the new ones (sorted)."""
    from neuroplast.data import ImageData, TextData

    if not rows:
        raise DataError(f"{source}: no labelled inputs to learn from")
    old = list(loaded.meta.label_names)
    present = {str(r.feedback) for r in rows}
    names = [n for n in old if n in present] + sorted(present - set(old))
    index = {n: i for i, n in enumerate(names)}
    labels = np.array([index[str(r.feedback)] for r in rows], dtype=np.int64)
    inputs = model_inputs(rows, loaded)
    if isinstance(inputs, np.ndarray):
        return ImageData(inputs, labels, names, source)
    return TextData(inputs, labels, names, source)
