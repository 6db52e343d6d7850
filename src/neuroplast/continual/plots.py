"""PNG plots of a continual run: the accuracy-matrix heatmap and per-task accuracy curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from neuroplast.evaluation.plots import figure_bytes, pyplot
from neuroplast.registry.artifacts import atomic_write_bytes

__all__ = ["plot_accuracy_curves", "plot_accuracy_matrix"]


def plot_accuracy_matrix(matrix: Sequence[Sequence[float]], path: Path, title: str) -> Path:
    """Heatmap of R: row i = after training task i, column j = tested on task j."""
    plt = pyplot()
    t = len(matrix)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * t, 0.8 + 0.6 * t))  # type: ignore[attr-defined]
    image = ax.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis")
    for i in range(t):
        for j in range(t):
            value = matrix[i][j]
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="black" if value > 0.6 else "white")  # fmt: skip
    ax.set_xticks(range(t), [str(j + 1) for j in range(t)])
    ax.set_yticks(range(t), [str(i + 1) for i in range(t)])
    ax.set_xlabel("tested on task")
    ax.set_ylabel("after training task")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    atomic_write_bytes(path, figure_bytes(fig))
    return path


def plot_accuracy_curves(matrix: Sequence[Sequence[float]], path: Path, title: str) -> Path:
    """One line per task: its accuracy after each training task (from when it was learnt)."""
    plt = pyplot()
    t = len(matrix)
    fig, ax = plt.subplots(figsize=(6, 3.4))  # type: ignore[attr-defined]
    for j in range(t):
        xs = list(range(j + 1, t + 1))
        ax.plot(xs, [matrix[i - 1][j] for i in xs], marker="o", label=f"task {j + 1}")
    ax.set_xlabel("after training task")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0.0, 1.02)
    ax.set_xticks(range(1, t + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(title, fontsize=9)
    atomic_write_bytes(path, figure_bytes(fig))
    return path
