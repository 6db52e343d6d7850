"""Explanations for people: tokens coloured by score in the terminal (rich), and tables.

Green tokens push the model towards the explained class, red ones away from it; methods
without a sign (saliency, attention) colour by strength in orange. The strongest token of a
text gets the full colour, the others in proportion.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from neuroplast.explain._results import TokenExplanation
from neuroplast.explain.faithfulness import CompletenessResult, DeletionResult
from neuroplast.explain.image import HeatCheck

__all__ = [
    "completeness_table",
    "deletion_table",
    "explanation_view",
    "heat_table",
    "token_colour",
    "tokens_text",
]

POSITIVE = (46, 160, 67)
NEGATIVE = (215, 58, 73)
UNSIGNED = (255, 140, 0)
_WHITE = (255, 255, 255)


def token_colour(score: float, scale: float, *, signed: bool) -> tuple[int, int, int]:
    """Background RGB of a token: white blended towards green / red / orange by strength."""
    strength = 0.0 if scale <= 0 else min(1.0, abs(score) / scale)
    end = UNSIGNED if not signed else (POSITIVE if score >= 0 else NEGATIVE)
    r, g, b = (round(w + (e - w) * strength) for w, e in zip(_WHITE, end, strict=True))
    return r, g, b


def _scale(scores: np.ndarray) -> float:
    return float(np.abs(scores).max()) if scores.size else 0.0


def tokens_text(explanation: TokenExplanation) -> Text:
    """The tokens of a text on backgrounds coloured by their scores."""
    text = Text()
    scale = _scale(explanation.scores)
    for i, (token, score) in enumerate(zip(explanation.tokens, explanation.scores, strict=True)):
        r, g, b = token_colour(float(score), scale, signed=explanation.signed)
        if i:
            text.append(" ")
        text.append(token, style=f"black on rgb({r},{g},{b})")
    return text


def explanation_view(explanation: TokenExplanation, *, top_k: int = 5) -> RenderableType:
    """Header, coloured tokens and the top tokens (and the most opposing ones) of a text."""
    e = explanation
    head = Text()
    head.append(f"{e.predicted_label}", style="bold")
    head.append(f"  explained class {e.target_label} (p={e.probability:.3f})  method {e.method}")
    if e.relative_delta is not None:
        head.append(f"  completeness error {100 * e.relative_delta:.2f} %")
    parts: list[RenderableType] = [head, tokens_text(e)]
    top = ", ".join(f"{token} {score:+.3f}" for token, score in e.top(top_k))
    parts.append(Text(f"top tokens: {top}"))
    if e.signed:
        against = e.bottom(min(3, top_k))
        if against:
            parts.append(
                Text("against: " + ", ".join(f"{token} {score:+.3f}" for token, score in against))
            )
    return Group(*parts, Text(""))


def deletion_table(
    results: Sequence[DeletionResult], *, title: str, architecture: str = ""
) -> Table:
    """Mean drop of the predicted-class probability: top-k tokens deleted vs random ones."""
    table = Table(title=title)
    if architecture:
        table.add_column("architecture")
    for name in ("method", "n", "top-k drop", "random drop", "top-k / random", "wins", "time"):
        table.add_column(name, justify="left" if name == "method" else "right")
    table.add_column("result")
    for r in results:
        ratio = r.top_drop / r.random_drop if r.random_drop > 0 else float("inf")
        cells = [
            r.method,
            str(r.n),
            f"{r.top_drop:.4f}",
            f"{r.random_drop:.4f}",
            f"{ratio:.2f}x",
            f"{100 * r.win_rate:.0f} %",
            f"{r.seconds:.1f} s",
            "passed" if r.passed else "FAILED",
        ]
        table.add_row(*([architecture] if architecture else []), *cells)
    return table


def completeness_table(result: CompletenessResult, *, title: str) -> Table:
    """Integrated gradients: sum of scores against ``f(x) - f(baseline)``."""
    table = Table(title=title)
    for name in ("n", "within tolerance", "median error", "max error", "time", "result"):
        table.add_column(name, justify="right")
    table.add_row(
        str(result.n),
        f"{100 * result.within:.1f} % (<= {100 * result.tolerance:.0f} %)",
        f"{100 * result.median_relative:.3f} %",
        f"{100 * result.max_relative:.3f} %",
        f"{result.seconds:.1f} s",
        "passed" if result.passed else "FAILED",
    )
    return table


def heat_table(checks: Sequence[HeatCheck], *, title: str) -> Table:
    """Share of the positive heat on object pixels (value > 0); "uniform heat" is the share of
    object pixels, what a map spreading heat evenly would score; "random weights" what the
    same method scores on the architecture with random weights (a method must beat both)."""
    table = Table(title=title)
    names = (
        "method",
        "n",
        "mean on object",
        "median",
        "images >= threshold",
        "uniform heat",
        "random weights",
    )
    for name in (*names, "time"):
        table.add_column(name, justify="left" if name == "method" else "right")
    table.add_column("result")
    for c in checks:
        table.add_row(
            c.method,
            str(c.n),
            f"{100 * c.mean_on_object:.1f} %",
            f"{100 * c.median_on_object:.1f} %",
            f"{100 * c.images_at_least:.1f} % (>= {100 * c.threshold:.0f} %)",
            f"{100 * c.object_pixels:.1f} %",
            "-" if c.random_weights != c.random_weights else f"{100 * c.random_weights:.1f} %",
            f"{c.seconds:.1f} s",
            c.verdict,
        )
    return table
