"""``neuro analyze``: the plots of an ``evaluation.json`` (from ``neuro evaluate``) as PNG:
the accuracy matrix, prototype statistics, a spike raster and the risk-coverage curve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from neuroplast.errors import DataError

__all__ = ["analyze_results", "read_results"]

RESULTS_FILE = "evaluation.json"
KEYS = ("accuracy_matrix", "prototype_stats", "risk_coverage", "raster")


def read_results(path: Path) -> dict[str, Any]:
    """An ``evaluation.json`` (or the folder holding it), checked for the keys plots need."""
    file = path / RESULTS_FILE if path.is_dir() else path
    if not file.is_file():
        raise DataError(
            f"{file} not found: write it with `neuroplast neuro evaluate MODEL --out {path}`"
        )
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{file} is not valid JSON ({e}); evaluate the model again") from e
    missing = [k for k in KEYS if not isinstance(document, dict) or k not in document]
    if missing:
        raise DataError(f"{file} lacks {', '.join(missing)}: it is not a `neuro evaluate` result")
    return dict(document)


def _save(fig: Any, path: Path) -> Path:
    from neuroplast.evaluation.plots import figure_bytes
    from neuroplast.registry.artifacts import atomic_write_bytes

    atomic_write_bytes(path, figure_bytes(fig))
    return path


def _pyplot() -> Any:
    from neuroplast.evaluation.plots import pyplot

    return pyplot()


def _prototypes(stats: dict[str, Any], path: Path, title: str) -> Path:
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    per_class = stats.get("per_class", {})
    left.bar(range(len(per_class)), list(per_class.values()), color="tab:blue")
    left.set_xticks(range(len(per_class)), list(per_class), rotation=90, fontsize=6)
    left.set_ylabel("prototypes")
    left.set_title("prototypes per class", fontsize=9)
    members = stats.get("members", [])
    right.hist(members, bins=30, color="tab:green")
    right.set_xlabel("examples absorbed per prototype")
    right.set_ylabel("prototypes")
    right.set_yscale("log")
    right.set_title(f"{stats.get('prototypes', 0)} prototypes", fontsize=9)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def _raster(raster: dict[str, Any] | None, path: Path, title: str) -> Path | None:
    if not raster:
        return None
    plt = _pyplot()
    spikes = raster["spikes"]  # [T][assemblies]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for t, row in enumerate(spikes):
        fired = [k for k, s in enumerate(row) if s]
        ax.scatter([t] * len(fired), fired, s=6, marker="|", color="black")
    ax.set_xlabel("time step")
    ax.set_ylabel("assembly (most active first)")
    names = raster.get("labels", [])
    if names and len(names) <= 40:
        ax.set_yticks(range(len(names)), names, fontsize=5)
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def _risk_coverage(curve: dict[str, Any], doc: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    area = curve.get("aurc")
    label = "risk-coverage" if area is None else f"risk-coverage (area {area:.3f})"
    ax.plot(curve["coverage"], curve["risk"], color="tab:red", label=label)
    if doc.get("coverage") is not None and doc.get("threshold") is not None:
        ax.scatter([doc["coverage"]], [doc["risk"]], color="black", zorder=3,
                   label=f"calibrated threshold {doc['threshold']:.3f}")  # fmt: skip
    ax.legend(fontsize=7)
    ax.set_xlabel("coverage (share answered)")
    ax.set_ylabel("risk (error rate of answered)")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(bottom=0.0)
    ax.grid(alpha=0.3)
    ax.set_title("risk-coverage", fontsize=9)
    return _save(fig, path)


def analyze_results(results: Path, out: Path | None = None) -> dict[str, Path]:
    """Write the plots of ``results`` (a folder with ``evaluation.json``, or the file) into
    ``out`` (default: the same folder); returns name -> PNG path."""
    document = read_results(results)
    folder = out or (results if results.is_dir() else results.parent)
    folder.mkdir(parents=True, exist_ok=True)
    title = f"{document.get('model') or 'learner'} on {document.get('stream') or 'its stream'}"
    plots: dict[str, Path] = {}
    matrix = document.get("accuracy_matrix")
    if matrix:
        from neuroplast.continual.plots import plot_accuracy_matrix

        plots["accuracy_matrix"] = plot_accuracy_matrix(
            matrix, folder / "accuracy_matrix.png", title
        )
    plots["prototypes"] = _prototypes(document["prototype_stats"], folder / "prototypes.png", title)
    raster = _raster(document.get("raster"), folder / "spike_raster.png", title)
    if raster is not None:
        plots["spike_raster"] = raster
    plots["risk_coverage"] = _risk_coverage(
        document["risk_coverage"], document, folder / "risk_coverage.png"
    )
    return plots
