"""Fréchet distance and k-NN precision / recall between two sets of feature vectors.

- FID (Heusel et al., 2017): ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` of the
  Gaussians fitted to the two sets; the matrix square root is ``scipy.linalg.sqrtm``.
- Precision and recall (Kynkäänniemi et al., 2019): each set's manifold is the union of
  balls around its points, each ball's radius the distance to the point's k-th nearest
  neighbour in its own set. Precision is the share of generated points inside the real
  manifold; recall the share of real points inside the generated one.

The features here are whatever the caller gives; :mod:`.features` supplies a classifier's.
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from neuroplast.errors import ConfigError, DataError

__all__ = [
    "PrecisionRecall",
    "fid",
    "frechet_distance",
    "gaussian_stats",
    "knn_radii",
    "precision_recall",
]

_CHUNK = 1024
_HINT = "pip install 'neuroplast[monitor]'"


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of ``features`` [n, d], in float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise DataError(f"FID needs at least 2 feature vectors as [n, d]; got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(
    mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray
) -> float:
    """The Fréchet distance between N(mu_a, cov_a) and N(mu_b, cov_b)."""
    try:
        linalg = importlib.import_module("scipy.linalg")
    except ImportError as e:
        raise ConfigError(f"FID needs scipy (scipy.linalg.sqrtm); install it with `{_HINT}`") from e
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)  # singular: handled below
        root = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(root).all():  # a singular product: nudge both diagonals
            offset = np.eye(len(cov_a)) * 1e-6
            root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    root = np.real(root)
    diff = mu_a - mu_b
    value = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(root))
    return max(value, 0.0)


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two feature sets."""
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cdist(a, b)


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Each point's distance to its k-th nearest other point of the same set."""
    x = torch.as_tensor(np.asarray(features, dtype=np.float32))
    if len(x) <= k:
        raise DataError(f"precision/recall with k={k} needs more than {k} points; got {len(x)}")
    radii = []
    for start in range(0, len(x), _CHUNK):
        d = _distances(x[start : start + _CHUNK], x)
        nearest = d.topk(k + 1, dim=1, largest=False).values  # the 1st is the point itself
        radii.append(nearest[:, k])
    return torch.cat(radii).numpy()


def _coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    """The share of ``points`` within ``radii`` of at least one of ``centres``."""
    p = torch.as_tensor(np.asarray(points, dtype=np.float32))
    c = torch.as_tensor(np.asarray(centres, dtype=np.float32))
    r = torch.as_tensor(radii)
    inside = 0
    for start in range(0, len(p), _CHUNK):
        d = _distances(p[start : start + _CHUNK], c)
        inside += int((d <= r[None, :]).any(dim=1).sum())
    return inside / len(p)


@dataclass(frozen=True)
class PrecisionRecall:
    precision: float
    recall: float
    k: int


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> PrecisionRecall:
    """Kynkäänniemi et al.'s improved precision and recall of ``fake`` against ``real``."""
    precision = _coverage(fake, real, knn_radii(real, k))
    recall = _coverage(real, fake, knn_radii(fake, k))
    return PrecisionRecall(precision=precision, recall=recall, k=k)
