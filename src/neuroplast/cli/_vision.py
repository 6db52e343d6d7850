"""``evaluate --errors / --robustness``: run the image analyses and print what they wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from neuroplast.errors import ConfigError

__all__ = ["print_vision_analyses", "vision_analyses"]

_SPLITS = ("train", "val", "test")


def vision_analyses(
    ref: str,
    split: str,
    errors: str | None,
    robustness: bool,
    samples: int,
    home: Path | str | None,
) -> dict[str, Any]:
    """``{"errors": {...}, "robustness": {...}}`` for the options given (empty without)."""
    if errors is None and not robustness:
        return {}
    if split not in _SPLITS:
        raise ConfigError(f"--errors and --robustness read the model's own split, not {split!r}")
    from neuroplast.engine import Engine
    from neuroplast.evaluation.vision import analyze_errors, analyze_robustness, load_image_split

    out: dict[str, Any] = {}
    with Engine(home) as engine:
        data = load_image_split(engine.registry, ref, split)  # type: ignore[arg-type]
        if errors is not None:
            found = analyze_errors(engine.registry, ref, Path(errors), data=data)
            out["errors"] = {
                "accuracy": found.accuracy,
                "mistakes": found.mistakes,
                "samples": found.samples,
                "heat_method": found.method,
                "pairs": [[p.true, p.predicted, p.count] for p in found.pairs],
                "files": {k: str(v) for k, v in found.files.items()},
            }
        if robustness:
            report = analyze_robustness(engine.registry, ref, samples=samples, data=data)
            out["robustness"] = {
                **report.result.to_dict(),
                "files": {k: str(v) for k, v in report.files.items()},
            }
    return out


def print_vision_analyses(console: Console, extra: dict[str, Any]) -> None:
    if "errors" in extra:
        e = extra["errors"]
        console.print(
            f"errors: {e['mistakes']} of {e['samples']} wrong; {len(e['pairs'])} class pairs "
            f"with {e['heat_method']} maps: {e['files']['html']}"
        )
    if "robustness" in extra:
        r = extra["robustness"]
        console.print(f"robustness on {r['samples']} images (epsilons in [0, 1] pixel space):")
        for row in r["rows"]:
            console.print(f"  {row['attack']:<9} {row['strength']:<6g} {row['accuracy']:.4f}")
        console.print(f"robustness report: {r['files']['html']}")
