"""A drift report as one self-contained HTML file: the tables, and the plots drawn by
matplotlib as inline SVG (no CDN, no script, no external file)."""

from __future__ import annotations

import html
import io
import math
from pathlib import Path

import numpy as np

from neuroplast.monitoring.monitor import MonitorReport
from neuroplast.registry.artifacts import atomic_write_bytes

__all__ = ["render_html", "write_html"]

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{padding:.2em .7em;border-bottom:1px solid #ddd}
td.n{text-align:right;font-variant-numeric:tabular-nums}.alarm{color:#b00020;font-weight:600}
figure{display:inline-block;margin:0 1em 1em 0}svg{max-width:100%;height:auto}
"""


def _svg(figure: object) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(figure)  # type: ignore[arg-type]
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _p_value_plot(report: MonitorReport) -> str:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    names = [r.name for r in report.windows[0].results if r.p_value is not None]
    for name in names:
        ps = [next((r.p_value for r in w.results if r.name == name), None) for w in report.windows]
        ax.plot(range(len(ps)), [max(p or 1.0, 1e-300) for p in ps], marker="o", label=name)
    level = report.alpha / max(1, len(names))
    ax.axhline(level, color="#b00020", linestyle="--", label=f"alarm level {level:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel("window (oldest first)")
    ax.set_ylabel("p-value")
    ax.legend(fontsize=7, loc="lower left")
    return _svg(fig)


def _sample_plot(name: str, reference: np.ndarray, current: np.ndarray, classes: bool) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.6, 2.6))
    if classes:
        k = int(max(reference.max(initial=0), current.max(initial=0))) + 1
        width = 0.4
        for shift, values, label in (
            (-width / 2, reference, "reference"),
            (width / 2, current, "newest window"),
        ):
            share = np.bincount(values.astype(np.int64), minlength=k) / max(1, len(values))
            ax.bar(np.arange(k) + shift, share, width, label=label)
        ax.set_xticks(range(k))
        ax.set_xlabel("predicted class (code)")
    else:
        both = np.concatenate([reference, current])
        low, high = float(both.min()), float(both.max())
        bins = np.linspace(low, high if high > low else low + 1, 30)
        ax.hist(reference, bins=bins.tolist(), density=True, alpha=0.5, label="reference")
        ax.hist(current, bins=bins.tolist(), density=True, alpha=0.5, label="newest window")
    ax.set_title(name, fontsize=9)
    ax.legend(fontsize=7)
    return _svg(fig)


def _cell(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3g}"


def render_html(report: MonitorReport) -> str:
    """The report as an HTML page."""
    e = html.escape
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        f"<title>Drift report: {e(report.version)}</title><style>{_STYLE}</style>",
        f"<h1>Drift report: {e(report.version)}</h1>",
        f"<p>Reference: the {e(report.reference)} split ({report.reference_size} inputs); "
        f"{len(report.windows)} windows of {report.window} inputs; alpha {report.alpha:g} per "
        f"window; <b>{report.alarms}</b> windows raised the alarm.</p>",
    ]
    parts += [f"<p>{e(note)}</p>" for note in report.notes]
    if report.windows:
        parts.append("<h2>p-values per window</h2><figure>" + _p_value_plot(report) + "</figure>")
    if report.samples:
        parts.append("<h2>Reference and newest window</h2>")
        for name, (ref, cur) in report.samples.items():
            parts.append(
                "<figure>" + _sample_plot(name, ref, cur, "class mix" in name) + "</figure>"
            )
    for w in report.windows:
        span = (
            ""
            if w.start is None or w.end is None
            else f": {w.start:%Y-%m-%d %H:%M:%S} to {w.end:%H:%M:%S} UTC"
        )
        flag = ' <span class="alarm">ALARM</span>' if w.alarm else ""
        parts.append(f"<h3>Window {w.index} ({w.size} inputs{e(span)}){flag}</h3>")
        parts.append("<table><tr><th>test<th>statistic<th>p-value<th>alarm</tr>")
        for r in w.results:
            alarm = '<td class="alarm">yes' if r.alarm else "<td>no"
            parts.append(
                f"<tr><td>{e(r.name)}<td class=n>{_cell(r.statistic)}"
                f"<td class=n>{_cell(r.p_value)}{alarm}</tr>"
            )
        parts.append("</table>")
    parts.append("</html>\n")
    return "\n".join(parts)


def write_html(report: MonitorReport, path: Path) -> Path:
    """Write :func:`render_html` atomically to ``path``; returns it."""
    atomic_write_bytes(path, render_html(report).encode("utf-8"))
    return path
