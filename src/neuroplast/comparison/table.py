"""The comparison table (seed 004's architecture table, measured): mean ± std over seeds
per architecture, a recommendation line, Markdown / CSV / JSON, and a PNG of accuracy
against batch-1 latency."""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from neuroplast.comparison.runner import Measurement

__all__ = ["COLUMNS", "Comparison", "Format"]

Format = Literal["markdown", "csv", "json"]
#: (field of Measurement, column title, digits)
COLUMNS = [
    ("params", "parameters", 0),
    ("train_seconds", "train time (s)", 1),
    ("train_samples_per_sec", "train samples/s", 0),
    ("latency_ms", "batch-1 latency (ms)", 2),
    ("throughput", "batch-64 throughput (/s)", 0),
    ("size_fp32_mb", "size fp32 (MB)", 2),
    ("size_int8_mb", "size int8 (MB)", 2),
    ("accuracy", "accuracy", 4),
    ("f1_macro", "macro F1", 4),
    ("roc_auc", "AUC", 4),
]
#: Within this many accuracy points of the best, the faster architecture is recommended.
TOLERANCE = 0.01


def _stats(values: list[float | None]) -> tuple[float | None, float | None]:
    present = [float(v) for v in values if v is not None]
    if not present:
        return None, None
    return statistics.fmean(present), statistics.stdev(present) if len(present) > 1 else 0.0


@dataclass
class Comparison:
    """The measurements of one ``compare`` run and what is computed from them."""

    name: str
    data: str
    measurements: list[Measurement]

    def architectures(self) -> list[str]:
        return list(dict.fromkeys(m.architecture for m in self.measurements))

    def seeds(self) -> list[int]:
        return sorted({m.seed for m in self.measurements})

    def summary(self) -> dict[str, dict[str, tuple[float | None, float | None]]]:
        """architecture -> field -> (mean, std over seeds)."""
        out = {}
        for arch in self.architectures():
            rows = [m for m in self.measurements if m.architecture == arch]
            out[arch] = {f: _stats([getattr(m, f) for m in rows]) for f, _, _ in COLUMNS}
        return out

    def recommendation(self) -> str:
        summary = self.summary()

        def mean(arch: str, field: str) -> float:
            return summary[arch][field][0] or 0.0

        archs = self.architectures()
        best = max(archs, key=lambda a: mean(a, "accuracy"))
        fastest = min(archs, key=lambda a: mean(a, "latency_ms"))
        smallest = min(archs, key=lambda a: mean(a, "size_fp32_mb"))
        close = [a for a in archs if mean(a, "accuracy") >= mean(best, "accuracy") - TOLERANCE]
        pick = min(close, key=lambda a: mean(a, "latency_ms"))
        line = (
            f"most accurate: {best} ({mean(best, 'accuracy'):.4f}); fastest at batch 1: "
            f"{fastest} ({mean(fastest, 'latency_ms'):.2f} ms); smallest: {smallest} "
            f"({mean(smallest, 'size_fp32_mb'):.2f} MB). Recommended: {pick}"
        )
        if pick == best:
            return line + " (the most accurate; no architecture within 1 point of it is faster)"
        speedup = mean(best, "latency_ms") / max(mean(pick, "latency_ms"), 1e-9)
        gap = (mean(best, "accuracy") - mean(pick, "accuracy")) * 100
        return line + f" ({gap:.1f} points below {best} at {speedup:.1f}x lower latency)"

    # ---- output ----------------------------------------------------------------------
    def markdown(self) -> str:
        summary = self.summary()
        seeds = len(self.seeds())
        head = ["architecture", *(title for _, title, _ in COLUMNS)]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for arch, stats in summary.items():
            cells = [arch]
            for field, _, digits in COLUMNS:
                m, s = stats[field]
                if m is None:
                    cells.append("-")
                elif field in ("params", "size_fp32_mb", "size_int8_mb") or seeds == 1:
                    cells.append(f"{m:,.{digits}f}")
                else:
                    cells.append(f"{m:,.{digits}f} ± {s:,.{digits}f}")
            lines.append("| " + " | ".join(cells) + " |")
        note = (
            f"\n{self.data}; mean ± std over {seeds} seed(s) ({', '.join(map(str, self.seeds()))})."
        )
        return "\n".join(lines) + note + "\n\n" + self.recommendation() + "\n"

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            ["architecture", "seeds", *(f"{f}_{k}" for f, _, _ in COLUMNS for k in ("mean", "std"))]
        )
        for arch, stats in self.summary().items():
            values = [v for f, _, _ in COLUMNS for v in stats[f]]
            cells = ["" if v is None else f"{v:.6g}" for v in values]
            writer.writerow([arch, len(self.seeds()), *cells])
        return buffer.getvalue()

    def to_dict(self) -> dict[str, Any]:
        rows = {
            arch: {f: {"mean": m, "std": s} for f, (m, s) in stats.items()}
            for arch, stats in self.summary().items()
        }
        return {
            "name": self.name,
            "data": self.data,
            "seeds": self.seeds(),
            "architectures": rows,
            "recommendation": self.recommendation(),
            "runs": [asdict(m) for m in self.measurements],
        }

    def render(self, fmt: Format) -> str:
        if fmt == "csv":
            return self.csv()
        if fmt == "json":
            return json.dumps(self.to_dict(), indent=2)
        return self.markdown()

    def plot(self, path: Path) -> Path:
        """Accuracy (mean ± std) against batch-1 latency, one point per architecture."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, ax = plt.subplots(figsize=(7, 4.5))
        for arch, stats in self.summary().items():
            (lat, lat_sd), (acc, acc_sd) = stats["latency_ms"], stats["accuracy"]
            x, y = lat or 0.0, acc or 0.0
            ax.errorbar(x, y, xerr=lat_sd or 0.0, yerr=acc_sd or 0.0, fmt="o", capsize=3)
            ax.annotate(arch, (x, y), textcoords="offset points", xytext=(6, 6))
        ax.set_xscale("log")
        ax.set_xlabel("batch-1 latency through the Predictor (ms, log scale)")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{self.name}: accuracy against latency ({len(self.seeds())} seeds)")
        ax.grid(True, alpha=0.3)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        figure.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
        plt.close(figure)
        os.replace(tmp, path)
        return path

    def save(self, folder: Path) -> dict[str, Path]:
        """table.md, table.csv, table.json and accuracy_latency.png under ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for fmt, suffix in (("markdown", "md"), ("csv", "csv"), ("json", "json")):
            path = folder / f"table.{suffix}"
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(self.render(fmt), encoding="utf-8")  # type: ignore[arg-type]
            os.replace(tmp, path)
            files[fmt] = path
        files["plot"] = self.plot(folder / "accuracy_latency.png")
        return files
