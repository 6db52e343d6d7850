"""The robustness report: accuracy-versus-epsilon plot (PNG), table (HTML) and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from neuroplast.evaluation._html import document, png_tag, table
from neuroplast.evaluation.plots import figure_bytes, pyplot
from neuroplast.evaluation.robustness import CORRUPTIONS, RobustnessResult
from neuroplast.registry.artifacts import atomic_write_bytes

__all__ = ["robustness_html", "robustness_png", "save_robustness"]


def robustness_png(result: RobustnessResult, title: str) -> bytes:
    """FGSM and PGD accuracy against epsilon, and accuracy per corruption severity."""
    plt = pyplot()
    fig, (ax_adv, ax_cor) = plt.subplots(1, 2, figsize=(9.5, 3.6))  # type: ignore[attr-defined]
    for attack in ("fgsm", "pgd"):
        rows = sorted((r for r in result.rows if r.attack == attack), key=lambda r: r.strength)
        ax_adv.plot(
            [r.strength for r in rows], [r.accuracy for r in rows], marker="o", label=attack
        )
    ax_adv.set_xlabel("epsilon (L-inf, pixels in [0, 1])")
    ax_adv.set_ylabel("accuracy")
    ax_adv.set_ylim(0, 1)
    ax_adv.grid(alpha=0.3)
    ax_adv.legend()
    for kind in CORRUPTIONS:
        rows = [r for r in result.rows if r.attack == kind]
        ax_cor.plot(range(1, len(rows) + 1), [r.accuracy for r in rows], marker="o", label=kind)
    ax_cor.axhline(result.clean_accuracy, color="grey", linestyle="--", label="clean")
    ax_cor.set_xlabel("corruption severity (1-3)")
    ax_cor.set_xticks([1, 2, 3])
    ax_cor.set_ylim(0, 1)
    ax_cor.grid(alpha=0.3)
    ax_cor.legend(fontsize=8)
    fig.suptitle(title)
    return figure_bytes(fig)


def robustness_html(result: RobustnessResult, title: str, png: bytes) -> str:
    rows = [[r.attack, f"{r.strength:g}", f"{r.accuracy:.4f}"] for r in result.rows]
    meta = (
        f"{result.samples} test images; pixels in [0, 1], epsilons are L-infinity radii there; "
        f"PGD {result.pgd_steps} steps of 2.5 eps / steps from a random start (seed "
        f"{result.seed}); noise std and blur sigma in pixel units, contrast a factor"
    )
    body = png_tag(png, "accuracy under attack") + table(
        ["perturbation", "strength", "accuracy"], rows
    )
    return document(title, meta, body)


def save_robustness(
    result: RobustnessResult, folder: Path, stem: str, title: str
) -> dict[str, Path]:
    """Write ``<stem>.png``, ``.html`` and ``.json`` into ``folder`` (atomically)."""
    png = robustness_png(result, title)
    paths = {kind: folder / f"{stem}.{kind}" for kind in ("png", "html", "json")}
    atomic_write_bytes(paths["png"], png)
    atomic_write_bytes(paths["html"], robustness_html(result, title, png).encode("utf-8"))
    atomic_write_bytes(paths["json"], json.dumps(result.to_dict(), indent=2).encode("utf-8"))
    return paths
