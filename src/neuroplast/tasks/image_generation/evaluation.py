"""FID and precision/recall of a generator against the Fashion-MNIST test set.

Feature space: the pooled features of a registered neuroplast ``image_cnn`` (see
:mod:`.features`; not Inception). The test set is split in two halves by a fixed seed:
half B is the reference; ``n`` images of half A against it give the floor (what two real
samples of this size score), ``n`` uniform-noise images the ceiling's neighbourhood, and
``n`` generated images the model. Every row uses the same ``n`` and the same reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from neuroplast.errors import ConfigError
from neuroplast.registry import Registry
from neuroplast.tasks.image_generation.data import load_splits
from neuroplast.tasks.image_generation.features import FeatureModel, load_feature_model
from neuroplast.tasks.image_generation.metrics import fid, precision_recall
from neuroplast.tasks.image_generation.sampling import (
    LoadedGenerator,
    generate_images,
    load_generator,
)

__all__ = ["GenEvaluation", "evaluate_generator", "score_rows"]

SPLIT_SEED = 1234


@dataclass
class GenEvaluation:
    generator: LoadedGenerator
    feature_model: str
    rows: dict[str, dict[str, float]]  # name -> fid, precision, recall
    samples: int
    reference: int
    k: int
    sample_seconds: float
    steps: int | None

    def lines(self) -> list[str]:
        head = (
            f"{self.generator.version.ref}: FID and precision/recall (k={self.k}) in the pooled "
            f"features of {self.feature_model} (not Inception), {self.samples} images against "
            f"{self.reference} test images"
        )
        out = [head, f"  {'':18} {'FID':>9} {'precision':>10} {'recall':>8}"]
        for name, row in self.rows.items():
            out.append(
                f"  {name:18} {row['fid']:9.4g} {row['precision']:10.3f} {row['recall']:8.3f}"
            )
        out.append(
            f"  sampling: {self.sample_seconds:.1f} s"
            + (f" ({self.steps} DDIM steps)" if self.steps else "")
        )
        return out


def score_rows(
    features: FeatureModel, reference: torch.Tensor, sets: dict[str, torch.Tensor], k: int
) -> dict[str, dict[str, float]]:
    """FID, precision and recall of each image set against ``reference`` (images in [0, 1])."""
    ref = features.embed(reference)
    rows = {}
    for name, images in sets.items():
        feats = features.embed(images)
        pr = precision_recall(ref, feats, k=k)
        rows[name] = {
            "fid": float(f"{fid(feats, ref):.5g}"),
            "precision": round(pr.precision, 4),
            "recall": round(pr.recall, 4),
        }
    return rows


def evaluate_generator(
    registry: Registry,
    ref: str,
    *,
    feature_model: str | None = None,
    samples: int | None = None,
    seed: int = 0,
    steps: int | None = None,
) -> GenEvaluation:
    """Score the version ``ref`` beside the split-test floor and random noise."""
    gen = load_generator(registry, ref)
    settings = gen.settings
    features = load_feature_model(registry, feature_model or settings.feature_model)
    test, _ = load_splits({**gen.data, "limit": None}).split("test")  # the full test set
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(SPLIT_SEED))
    half_a, half_b = test[order[: len(test) // 2]], test[order[len(test) // 2 :]]
    n = min(samples or settings.eval_samples, len(half_a))
    if n <= settings.k:
        raise ConfigError(f"only {n} test images per half; need more than k={settings.k}")
    made = generate_images(gen, n=n, seed=seed, steps=steps)
    noise = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    sets = {
        "test half (floor)": half_a[:n],
        gen.version.ref: torch.from_numpy(made.images),
        "uniform noise": noise,
    }
    rows = score_rows(features, half_b, sets, settings.k)
    return GenEvaluation(
        gen, features.ref, rows, n, len(half_b), settings.k, made.seconds, made.steps
    )


def evaluation_document(result: GenEvaluation) -> dict[str, Any]:
    ref = result.generator.version.ref
    return {
        "version": ref,
        "feature_space": f"pooled image_cnn features of {result.feature_model} (not Inception)",
        "samples": result.samples,
        "reference_images": result.reference,
        "k": result.k,
        "steps": result.steps,
        "sample_seconds": round(result.sample_seconds, 3),
        "metrics": result.rows[ref],
        "floor": result.rows["test half (floor)"],
        "noise": result.rows["uniform noise"],
    }
