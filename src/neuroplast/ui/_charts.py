"""Line charts as inline SVG: the numbers are turned into coordinates here, and the
template (``_chart.html``) draws them with autoescaping like any other text. No script, no
external file: a chart is readable as soon as the page is."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Chart", "Line", "line_chart"]

WIDTH, HEIGHT = 520, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 12, 34
#: Distinguishable on white, and in grey print (Okabe & Ito's palette).
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")


@dataclass(frozen=True)
class Line:
    label: str
    colour: str
    points: str  # "x,y x,y ..." in the SVG's coordinates
    dots: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    lines: tuple[Line, ...]
    x_ticks: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    x_label: str
    left: int = _LEFT
    bottom: int = HEIGHT - _BOTTOM
    right: int = WIDTH - _RIGHT
    top: int = _TOP


def _label(value: float) -> str:
    return f"{value:.3g}"


def line_chart(
    title: str,
    series: Mapping[str, Sequence[tuple[float, float | None]]],
    *,
    x_label: str = "epoch",
    x_tick_labels: Mapping[float, str] | None = None,
) -> Chart | None:
    """One chart of every series (label -> (x, y) points; None or non-finite y left out);
    None when no series has a point."""
    clean = {
        label: [(float(x), float(y)) for x, y in points if y is not None and math.isfinite(y)]
        for label, points in series.items()
    }
    clean = {label: points for label, points in clean.items() if points}
    if not clean:
        return None
    xs = [x for points in clean.values() for x, _ in points]
    ys = [y for points in clean.values() for _, y in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        pad = abs(y0) * 0.1 or 1.0
        y0, y1 = y0 - pad, y1 + pad

    def sx(x: float) -> float:
        return round(_LEFT + (x - x0) / (x1 - x0) * (WIDTH - _LEFT - _RIGHT), 1)

    def sy(y: float) -> float:
        return round(HEIGHT - _BOTTOM - (y - y0) / (y1 - y0) * (HEIGHT - _TOP - _BOTTOM), 1)

    lines = []
    for i, (label, points) in enumerate(clean.items()):
        dots = tuple((sx(x), sy(y)) for x, y in points)
        lines.append(
            Line(label, COLOURS[i % len(COLOURS)], " ".join(f"{x},{y}" for x, y in dots), dots)
        )
    x_values = sorted(set(xs))
    if len(x_values) > 8:  # at most 8 ticks, the last one included, none crowding it
        step = math.ceil(len(x_values) / 8)
        kept = x_values[::step]
        if kept[-1] != x_values[-1]:
            kept = (
                [*kept[:-1], x_values[-1]] if len(kept) > 1 and step > 1 else [*kept, x_values[-1]]
            )
        x_values = kept
    names = x_tick_labels or {}
    x_ticks = tuple((sx(x), names.get(x, _label(x))) for x in x_values)
    y_ticks = tuple((sy(y), _label(y)) for y in (y0, (y0 + y1) / 2, y1))
    return Chart(title, WIDTH, HEIGHT, tuple(lines), x_ticks, y_ticks, x_label)
