"""A self-contained HTML report of explanations: inline CSS, images as data URIs, no scripts.

The file opens offline and fetches nothing: every token is a ``<span>`` whose background
shows its score (hover for the number), every image overlay is an embedded PNG, and the
faithfulness checks, when run, are tables at the end.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from neuroplast.explain._results import ImageExplanation, TokenExplanation
from neuroplast.explain.faithfulness import CompletenessResult, DeletionResult
from neuroplast.explain.image import HeatCheck
from neuroplast.explain.overlay import overlay_png
from neuroplast.explain.render import NEGATIVE, POSITIVE, UNSIGNED, token_colour
from neuroplast.registry.artifacts import atomic_write_bytes

__all__ = ["html_report", "save_html"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #1b1f24; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
.meta { color: #57606a; }
.item { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.8em 1em; margin: 1em 0; }
.head { margin-bottom: 0.6em; }
.tokens { line-height: 2.1; font-size: 1.1em; }
.tok { padding: 0.15em 0.25em; border-radius: 3px; margin-right: 0.1em; }
.top { color: #57606a; margin-top: 0.5em; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #d0d7de; padding: 0.3em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.passed { color: #1a7f37; font-weight: 600; } .failed { color: #cf222e; font-weight: 600; }
.legend span { padding: 0.1em 0.5em; border-radius: 3px; margin-right: 0.6em; }
img { image-rendering: pixelated; max-width: 100%; }
"""


def _rgb(colour: tuple[int, int, int]) -> str:
    return f"rgb({colour[0]},{colour[1]},{colour[2]})"


def _verdict(passed: bool) -> str:
    return '<span class="passed">passed</span>' if passed else '<span class="failed">FAILED</span>'


def _text_item(e: TokenExplanation) -> str:
    scale = float(abs(e.scores).max()) if e.scores.size else 0.0
    spans = []
    for token, score in zip(e.tokens, e.scores, strict=True):
        colour = _rgb(token_colour(float(score), scale, signed=e.signed))
        spans.append(
            f'<span class="tok" style="background:{colour}" title="{float(score):+.4f}">'
            f"{escape(token)}</span>"
        )
    completeness = ""
    if e.relative_delta is not None:
        completeness = f"; completeness error {100 * e.relative_delta:.2f} %"
    top = ", ".join(f"{escape(t)} {s:+.3f}" for t, s in e.top(5))
    return (
        '<div class="item">'
        f'<div class="head"><b>{escape(e.predicted_label)}</b> predicted; explained class '
        f"<b>{escape(e.target_label)}</b> (p = {e.probability:.3f}){completeness}</div>"
        f'<div class="tokens">{" ".join(spans)}</div>'
        f'<div class="top">top tokens: {top}</div></div>'
    )


def _image_item(e: ImageExplanation) -> str:
    data = base64.b64encode(overlay_png(e, scale=6)).decode("ascii")
    return (
        '<div class="item">'
        f'<div class="head">{escape(e.source)}: <b>{escape(e.predicted_label)}</b> predicted; '
        f"explained class <b>{escape(e.target_label)}</b> (p = {e.probability:.3f}); "
        f"{100 * e.heat_on_object():.1f} % of the positive heat on the object</div>"
        f'<img alt="{escape(e.method)} heat map of {escape(e.source)}" '
        f'src="data:image/png;base64,{data}"></div>'
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _deletion_section(deletion: Sequence[DeletionResult]) -> str:
    k = deletion[0].k
    rows = [
        [
            escape(r.method),
            str(r.n),
            f"{r.top_drop:.4f}",
            f"{r.random_drop:.4f}",
            f"{100 * r.win_rate:.0f} %",
            _verdict(r.passed),
        ]
        for r in deletion
    ]
    headers = ["method", "n", f"top-{k} drop", "random drop", "wins", "result"]
    return (
        f"<h2>Deletion test (top {k} tokens vs {k} random tokens)</h2>"
        "<p>Mean drop of the predicted-class probability when the tokens are deleted.</p>"
        + _table(headers, rows)
    )


def _completeness_section(c: CompletenessResult) -> str:
    row = [
        str(c.n),
        f"{100 * c.within:.1f} %",
        f"{100 * c.median_relative:.3f} %",
        f"{100 * c.max_relative:.3f} %",
        _verdict(c.passed),
    ]
    headers = ["n", f"within {100 * c.tolerance:.0f} %", "median error", "max error", "result"]
    return "<h2>Completeness of integrated gradients</h2>" + _table(headers, [row])


def _heat_section(heat: Sequence[HeatCheck]) -> str:
    rows = [
        [
            escape(h.method),
            str(h.n),
            f"{100 * h.mean_on_object:.1f} %",
            f"{100 * h.images_at_least:.1f} %",
            f"{100 * h.object_pixels:.1f} %",
            "-" if h.random_weights != h.random_weights else f"{100 * h.random_weights:.1f} %",
            _verdict(h.passed),
        ]
        for h in heat
    ]
    headers = [
        "method",
        "n",
        "mean on object",
        "images >= 80 %",
        "uniform heat",
        "random weights",
        "result",
    ]
    return "<h2>Heat on the object (pixels &gt; 0)</h2>" + _table(headers, rows)


def _faithfulness(
    deletion: Sequence[DeletionResult],
    completeness: CompletenessResult | None,
    heat: Sequence[HeatCheck],
) -> str:
    """The report's faithfulness sections: those of the checks that ran."""
    parts = []
    if deletion:
        parts.append(_deletion_section(deletion))
    if completeness is not None:
        parts.append(_completeness_section(completeness))
    if heat:
        parts.append(_heat_section(heat))
    return "".join(parts)


def html_report(
    *,
    model: str,
    architecture: str,
    method: str,
    texts: Sequence[TokenExplanation] = (),
    images: Sequence[ImageExplanation] = (),
    deletion: Sequence[DeletionResult] = (),
    completeness: CompletenessResult | None = None,
    heat: Sequence[HeatCheck] = (),
) -> str:
    """The whole report as one HTML document (UTF-8, no external resources)."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    legend = (
        '<p class="legend">'
        f'<span style="background:{_rgb(POSITIVE)}">towards the class</span>'
        f'<span style="background:{_rgb(NEGATIVE)}">against it</span>'
        f'<span style="background:{_rgb(UNSIGNED)}">importance without sign '
        "(saliency, attention)</span></p>"
    )
    body = "".join(_text_item(e) for e in texts) + "".join(_image_item(e) for e in images)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>neuroplast explain {escape(model)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>Why {escape(model)} predicts what it predicts</h1>"
        f'<p class="meta">{escape(architecture)} model; method <b>{escape(method)}</b>; '
        f"generated {when} by neuroplast</p>"
        f"{legend if texts else ''}{body}{_faithfulness(deletion, completeness, heat)}"
        "</body></html>\n"
    )


def save_html(path: str | Path, document: str) -> Path:
    """Write the report atomically; returns the path."""
    target = Path(path)
    atomic_write_bytes(target, document.encode("utf-8"))
    return target
