"""``neuroplast evaluate MODEL --errors / --robustness``: the two image-model analyses run on a
registered version's own split, written as HTML + PNG (+ JSON) into the version's ``plots``
folder and recorded as evaluations of the version (splits ``test/errors`` and
``test/robustness``)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuroplast.config import DataConfig
from neuroplast.data import ImageData
from neuroplast.data.prepare import Split, prepare
from neuroplast.errors import ConfigError
from neuroplast.evaluation.errors import ConfusedPair, confident_mistakes, errors_png, save_errors
from neuroplast.evaluation.robustness import DEFAULT_EPSILONS, Robustness, RobustnessResult
from neuroplast.evaluation.robustness_report import save_robustness
from neuroplast.inference.bundle import LoadedModel
from neuroplast.inference.registered import load_registered
from neuroplast.registry import Registry, VersionRecord

__all__ = [
    "ErrorAnalysis",
    "ImageSplit",
    "RobustnessReport",
    "analyze_errors",
    "analyze_robustness",
    "load_image_split",
]

logger = logging.getLogger(__name__)
_HEAT_PREFERENCE = ("gradcam", "rollout", "ig")


@dataclass
class ImageSplit:
    """A registered image model with the uint8 images and labels of one of its splits."""

    version: VersionRecord
    loaded: LoadedModel
    images: np.ndarray
    labels: np.ndarray
    source: str
    split: str


def load_image_split(registry: Registry, ref: str, split: Split) -> ImageSplit:
    version, loaded = load_registered(registry, ref)
    meta = loaded.meta
    if meta.modality != "image":
        raise ConfigError(
            f"{version.ref} takes texts; --errors and --robustness analyse image models"
        )
    if not meta.data:
        raise ConfigError(
            f"{version.ref} was trained on data neuroplast did not load, so it has no {split} "
            "split to analyse; train it with `neuroplast train` on a data set or folder"
        )
    data = prepare(DataConfig.model_validate(meta.data))
    if not isinstance(data.raw, ImageData):
        raise ConfigError(f"{version.ref}: its data ({data.raw.source}) holds texts, not images")
    idx = data.indices(split)
    return ImageSplit(
        version, loaded, data.raw.images[idx], data.raw.labels[idx], data.raw.source, split
    )


@dataclass
class ErrorAnalysis:
    version: VersionRecord
    accuracy: float
    mistakes: int
    samples: int
    method: str
    pairs: list[ConfusedPair]
    files: dict[str, Path]


def analyze_errors(
    registry: Registry,
    ref: str,
    out: Path,
    *,
    split: Split = "test",
    method: str | None = None,
    per_pair: int = 4,
    max_pairs: int = 8,
    data: ImageSplit | None = None,
) -> ErrorAnalysis:
    """The most confident mistakes per class pair with a heat map beside each (GradCAM for
    CNNs, attention rollout for ViTs, else integrated gradients, unless ``method``)."""
    from neuroplast.explain import ImageExplainer

    chosen = data or load_image_split(registry, ref, split)
    split = chosen.split  # type: ignore[assignment]
    explainer = ImageExplainer(chosen.loaded)
    heat_method = method or next(m for m in _HEAT_PREFERENCE if m in explainer.methods)
    explainer.check_method(heat_method)
    probs = explainer.predict_proba(chosen.images)
    pairs = confident_mistakes(probs, chosen.labels, per_pair=per_pair, max_pairs=max_pairs)
    shown = [m for p in pairs for m in p.examples]
    maps = explainer.heat(
        chosen.images[[m.index for m in shown]], [m.predicted for m in shown], heat_method
    )
    heat = {m.index: maps[k] for k, m in enumerate(shown)}
    names = list(chosen.loaded.meta.label_names)
    png = errors_png(chosen.images, pairs, heat, names, method=heat_method)
    accuracy = float((probs.argmax(1) == chosen.labels).mean())
    meta = (
        f"{chosen.version.ref} ({chosen.version.architecture}) on its {split} split "
        f"({chosen.source}): accuracy {accuracy:.4f}; heat map: {heat_method} for the "
        "predicted (wrong) class"
    )
    title = f"Confident mistakes of {chosen.version.ref}"
    files = save_errors(out, pairs, png, names, title=title, meta=meta)
    stored = _store(chosen.version, f"errors_{split}", files)
    mistakes = int((probs.argmax(1) != chosen.labels).sum())
    registry.add_evaluation(
        chosen.version.id,
        split=f"{split}/errors",
        data_source=chosen.source,
        metrics={
            "accuracy": accuracy,
            "samples": len(chosen.labels),
            "mistakes": mistakes,
            "heat_method": heat_method,
            "pairs": [[names[p.true], names[p.predicted], p.count] for p in pairs],
            "files": {k: str(v) for k, v in stored.items()},
        },
        plots={"errors": stored["png"]},
    )
    return ErrorAnalysis(
        chosen.version, accuracy, mistakes, len(chosen.labels), heat_method, pairs, files
    )


def _store(version: VersionRecord, stem: str, files: dict[str, Path]) -> dict[str, Path]:
    """Copies of ``files`` in the version's ``plots`` folder, named ``stem.<kind>``."""
    folder = version.artifact_dir / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    stored = {}
    for kind, path in files.items():
        target = folder / f"{stem}.{kind}"
        if path.resolve() != target.resolve():
            shutil.copyfile(path, target)
        stored[kind] = target
    return stored


@dataclass
class RobustnessReport:
    version: VersionRecord
    result: RobustnessResult
    files: dict[str, Path]


def analyze_robustness(
    registry: Registry,
    ref: str,
    *,
    split: Split = "test",
    samples: int = 500,
    epsilons: Sequence[float] = DEFAULT_EPSILONS,
    pgd_steps: int = 10,
    seed: int = 0,
    data: ImageSplit | None = None,
) -> RobustnessReport:
    """Accuracy under FGSM, PGD and corruptions on ``samples`` images of the split (a seeded
    random subset; all of it when smaller)."""
    if samples < 1:
        raise ConfigError(f"--robustness-samples must be at least 1, got {samples}")
    chosen = data or load_image_split(registry, ref, split)
    split = chosen.split  # type: ignore[assignment]
    rows = np.random.default_rng(seed).permutation(len(chosen.labels))[:samples]
    pre = chosen.loaded.meta.preprocessing
    robustness = Robustness(
        chosen.loaded.model,
        mean=float(pre.get("mean", 0.5)),
        std=float(pre.get("std", 0.5)),
        epsilons=epsilons,
        pgd_steps=pgd_steps,
        seed=seed,
    )
    result = robustness.evaluate(chosen.images[np.sort(rows)], chosen.labels[np.sort(rows)])
    title = f"Robustness of {chosen.version.ref} ({chosen.version.architecture})"
    folder = chosen.version.artifact_dir / "plots"
    files = save_robustness(result, folder, f"robustness_{split}", title)
    registry.add_evaluation(
        chosen.version.id,
        split=f"{split}/robustness",
        data_source=chosen.source,
        metrics={
            "accuracy": result.clean_accuracy,
            "samples": result.samples,
            "robustness": result.to_dict(),
            "files": {k: str(v) for k, v in files.items()},
        },
        plots={"robustness": files["png"]},
    )
    return RobustnessReport(chosen.version, result, files)
