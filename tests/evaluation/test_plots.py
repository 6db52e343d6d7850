"""Training-curve plots: epochs are whole numbers on the x axis, however short the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from neuroplast.evaluation import plots
from neuroplast.types import ModelMetrics


@pytest.mark.parametrize("epochs", [1, 2, 3, 7, 40])
def test_training_curves_have_integer_epoch_ticks(
    epochs: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures: list[Any] = []

    def keep(fig: Any) -> bytes:
        fig.canvas.draw()  # ticks are placed when the figure is drawn
        figures.append(fig)
        return b"png"

    monkeypatch.setattr(plots, "figure_bytes", keep)
    history = [
        ModelMetrics(epoch=e, train_loss=1 / e, val_loss=1.1 / e, val_accuracy=0.5 + e / 100)
        for e in range(1, epochs + 1)
    ]
    plots.plot_training_curves(history, tmp_path / "curves.png", "curves")
    (figure,) = figures
    for axis in figure.axes:
        low, high = axis.get_xlim()
        ticks = [t for t in axis.get_xticks() if low <= t <= high]
        assert ticks, "no epoch tick at all"
        assert all(float(t).is_integer() for t in ticks), ticks
        if epochs <= 3:
            assert ticks == list(range(1, epochs + 1))
