"""The tasks' PNG plots: anomaly score histograms and forecasts with their intervals."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neuroplast.registry.artifacts import atomic_write_bytes

__all__ = ["plot_forecast", "plot_scores"]


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend. (neuroplast.evaluation.plots has the same
    helper, but importing that package loads torchmetrics: seconds for nothing here.)"""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def plot_scores(
    scores: np.ndarray, labels: np.ndarray | None, threshold: float, path: Path, title: str
) -> Path:
    """Histogram of anomaly scores (normal and anomalous apart when labels are known), log
    scale, with the threshold as a vertical line."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    positive = np.maximum(scores, 1e-12)
    bins = np.geomspace(positive.min(), positive.max() * 1.0001, 50)
    if labels is None:
        ax.hist(positive, bins=bins, color="tab:blue", alpha=0.7, label="all")
    else:
        ax.hist(positive[labels == 0], bins=bins, alpha=0.6, label="normal", color="tab:blue")
        ax.hist(positive[labels == 1], bins=bins, alpha=0.6, label="anomaly", color="tab:red")
    ax.axvline(max(threshold, 1e-12), color="black", linestyle="--", label="threshold")
    ax.set_xscale("log")
    ax.set_xlabel("anomaly score (reconstruction error)")
    ax.set_ylabel("examples")
    ax.legend()
    ax.set_title(title)
    return _save(fig, path)


def plot_forecast(
    history: np.ndarray,
    forecast: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    path: Path,
    title: str,
    *,
    history_x: Sequence[Any] | None = None,
    forecast_x: Sequence[Any] | None = None,
    level: float = 0.9,
) -> Path:
    """The series' last points, the forecast and its interval band."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    hx = list(range(len(history))) if history_x is None else list(history_x)
    fx = (
        list(range(len(history), len(history) + len(forecast)))
        if forecast_x is None
        else (list(forecast_x))
    )
    ax.plot(hx, history, color="tab:blue", label="history")
    ax.plot(fx, forecast, color="tab:orange", marker=".", label="forecast")
    ax.fill_between(fx, lower, upper, color="tab:orange", alpha=0.25, label=f"{level:.0%} interval")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return _save(fig, path)
