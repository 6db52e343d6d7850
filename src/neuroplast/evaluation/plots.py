"""PNG plots: training curves and the confusion matrix (matplotlib, Agg backend)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from neuroplast.registry.artifacts import atomic_write_bytes
from neuroplast.types import ModelMetrics

__all__ = ["figure_bytes", "plot_confusion_matrix", "plot_training_curves", "pyplot"]


def figure_bytes(fig: object) -> bytes:
    """The PNG of a matplotlib figure (closed afterwards)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return buffer.getvalue()


def pyplot() -> object:
    """``matplotlib.pyplot`` on the Agg backend (no display needed), imported on first use."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_training_curves(history: Sequence[ModelMetrics], path: Path, title: str) -> Path:
    """Loss (train and validation) and validation accuracy per epoch."""
    plt = pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4))  # type: ignore[attr-defined]
    epochs = [m.epoch for m in history]
    ax_loss.plot(epochs, [m.train_loss for m in history], marker="o", label="train")
    if any(m.val_loss is not None for m in history):
        ax_loss.plot(epochs, [m.val_loss for m in history], marker="o", label="validation")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    if any(m.val_accuracy is not None for m in history):
        ax_acc.plot(epochs, [m.val_accuracy for m in history], marker="o", color="tab:green")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.grid(alpha=0.3)
    from matplotlib.ticker import MaxNLocator

    for axis in (ax_loss, ax_acc):  # epochs are whole: no 0.5 ticks, even for one epoch
        axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    fig.suptitle(title)
    atomic_write_bytes(path, figure_bytes(fig))
    return path


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]], label_names: Sequence[str], path: Path, title: str
) -> Path:
    """Counts with row-normalised colours (rows: true class, columns: predicted class)."""
    plt = pyplot()
    k = len(label_names)
    size = max(3.5, 0.55 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size))  # type: ignore[attr-defined]
    totals = [max(1, sum(row)) for row in matrix]
    normalised = [[v / totals[i] for v in row] for i, row in enumerate(matrix)]
    ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            colour = "white" if normalised[i][j] > 0.5 else "black"
            ax.text(j, i, str(matrix[i][j]), ha="center", va="center", color=colour, fontsize=8)
    ax.set_xticks(range(k), label_names, rotation=45, ha="right")
    ax.set_yticks(range(k), label_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    atomic_write_bytes(path, figure_bytes(fig))
    return path
