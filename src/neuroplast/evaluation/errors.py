"""Error analysis: the most confident mistakes of each (true class, predicted class) pair.

:func:`confident_mistakes` ranks the confused pairs by how often they occur and keeps, per
pair, the mistakes made with the highest probability for the wrong class. The report is one
PNG grid (each mistake as the image and the image under a heat map: what the model looked at
when it chose the wrong class) and one self-contained HTML page that embeds it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuroplast.errors import DataError
from neuroplast.evaluation._html import document, png_tag, table
from neuroplast.evaluation.plots import figure_bytes, pyplot
from neuroplast.registry.artifacts import atomic_write_bytes

__all__ = [
    "ConfusedPair",
    "Mistake",
    "confident_mistakes",
    "errors_html",
    "errors_png",
    "save_errors",
]


@dataclass(frozen=True)
class Mistake:
    """Row ``index`` of the evaluated set, predicted ``predicted`` with ``confidence``."""

    index: int
    true: int
    predicted: int
    confidence: float


@dataclass(frozen=True)
class ConfusedPair:
    """All ``count`` mistakes of true class ``true`` taken for ``predicted``; ``examples``
    are the most confident of them, most confident first."""

    true: int
    predicted: int
    count: int
    examples: tuple[Mistake, ...]


def confident_mistakes(
    probabilities: np.ndarray, labels: np.ndarray, *, per_pair: int = 4, max_pairs: int = 8
) -> list[ConfusedPair]:
    """The ``max_pairs`` most frequent confusions, each with its ``per_pair`` most confident
    mistakes (ties in frequency go to the pair with the more confident mistake)."""
    probs, truth = np.asarray(probabilities, dtype=np.float64), np.asarray(labels)
    if probs.ndim != 2 or truth.shape != (len(probs),):
        raise DataError(
            f"error analysis needs probabilities [N, K] and N labels, got {probs.shape} and "
            f"{truth.shape}"
        )
    if per_pair < 1 or max_pairs < 1:
        raise DataError(f"per_pair={per_pair} and max_pairs={max_pairs} must be at least 1")
    predicted = probs.argmax(axis=1)
    confidence = probs[np.arange(len(probs)), predicted] if len(probs) else np.empty(0)
    groups: dict[tuple[int, int], list[Mistake]] = {}
    for i in np.flatnonzero(predicted != truth):
        key = (int(truth[i]), int(predicted[i]))
        groups.setdefault(key, []).append(Mistake(int(i), *key, float(confidence[i])))
    pairs = []
    for (true, pred), mistakes in groups.items():
        mistakes.sort(key=lambda m: (-m.confidence, m.index))
        pairs.append(ConfusedPair(true, pred, len(mistakes), tuple(mistakes[:per_pair])))
    pairs.sort(key=lambda p: (-p.count, -p.examples[0].confidence, p.true, p.predicted))
    return pairs[:max_pairs]


def _pixels(image: np.ndarray) -> np.ndarray:
    """uint8 ``[C, H, W]`` to what ``imshow`` draws: ``[H, W]`` grey or ``[H, W, 3]``."""
    array = np.asarray(image)
    return array[0] if array.shape[0] == 1 else np.moveaxis(array[:3], 0, -1)


def errors_png(
    images: np.ndarray,
    pairs: Sequence[ConfusedPair],
    heat: Mapping[int, np.ndarray],
    label_names: Sequence[str],
    *,
    method: str,
) -> bytes:
    """One row per pair: each mistake as the image and the image under its heat map."""
    if not pairs:
        raise DataError("no mistakes to show: the model classified every image right")
    plt = pyplot()
    columns = 2 * max(len(p.examples) for p in pairs)
    fig, axes = plt.subplots(  # type: ignore[attr-defined]
        len(pairs), columns, figsize=(1.3 * columns, 1.55 * len(pairs)), squeeze=False
    )
    for row, pair in zip(axes, pairs, strict=True):
        for ax in row:
            ax.axis("off")
        for k, mistake in enumerate(pair.examples):
            pixels = _pixels(images[mistake.index])
            cmap = "gray" if pixels.ndim == 2 else None
            row[2 * k].imshow(pixels, cmap=cmap, vmin=0, vmax=255)
            row[2 * k].set_title(f"p={mistake.confidence:.2f}", fontsize=7)
            row[2 * k + 1].imshow(pixels, cmap=cmap, vmin=0, vmax=255)
            row[2 * k + 1].imshow(np.clip(heat[mistake.index], 0, None), cmap="jet", alpha=0.5)
            row[2 * k + 1].set_title(method, fontsize=7)
        label = f"{label_names[pair.true]} -> {label_names[pair.predicted]} ({pair.count})"
        row[0].text(-4, 14, label, fontsize=8, ha="right", va="center")
    fig.suptitle("most confident mistakes per (true -> predicted) pair", fontsize=9)
    return figure_bytes(fig)


def errors_html(
    pairs: Sequence[ConfusedPair], png: bytes, label_names: Sequence[str], *, title: str, meta: str
) -> str:
    rows = [
        [
            label_names[p.true],
            label_names[p.predicted],
            str(p.count),
            ", ".join(f"#{m.index} ({m.confidence:.2f})" for m in p.examples),
        ]
        for p in pairs
    ]
    headers = ["true class", "predicted", "mistakes", "shown (row: probability)"]
    return document(title, meta, table(headers, rows) + png_tag(png, "confident mistakes"))


def save_errors(
    html_path: Path,
    pairs: Sequence[ConfusedPair],
    png: bytes,
    label_names: Sequence[str],
    *,
    title: str,
    meta: str,
) -> dict[str, Path]:
    """Write the HTML page and the PNG beside it (same name, ``.png``), atomically."""
    paths = {"html": html_path, "png": html_path.with_suffix(".png")}
    atomic_write_bytes(paths["png"], png)
    page = errors_html(pairs, png, label_names, title=title, meta=meta)
    atomic_write_bytes(paths["html"], page.encode("utf-8"))
    return paths
