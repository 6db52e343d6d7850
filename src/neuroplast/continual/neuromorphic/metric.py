"""The similarity in which prototypes are compared: cosine on the concepts as they come, or
cosine after whitening them with the streaming covariance of every concept seen so far.

Frozen pretrained features are anisotropic: a few directions carry most of the variance
and every class shares them, so raw cosines crowd classes together and each new class
takes test inputs away from the old ones (measured on split MNIST: the old classes'
prototypes do not change at all, yet their accuracy falls from 0.91 to 0.70). Whitening by
the pooled covariance (shrunk towards its mean variance) turns the cosine into a
Mahalanobis-like similarity, as streaming LDA does. The statistics are class-agnostic sums
that only accumulate (count, mean, scatter), so they forget nothing; prototypes stay in
the raw concept space and are re-projected whenever the statistics move, so old and new
prototypes are always compared in the same space.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from neuroplast.errors import ArtifactError, DataError

__all__ = ["Whitening"]


class Whitening:
    """Streaming mean and scatter of ``dim``-dimensional concepts (float64), and the
    whitening map ``z = (x - mean) @ W`` with ``W = C^{-1/2}`` of the covariance ``C``
    shrunk by ``shrinkage`` towards ``mean(diag C) * I``."""

    def __init__(self, dim: int, shrinkage: float) -> None:
        if dim < 1:
            raise DataError(f"whitening needs dim >= 1, got {dim}")
        if not 0.0 < shrinkage <= 1.0:
            raise DataError(f"whitening shrinkage must be in (0, 1], got {shrinkage}")
        self.dim, self.shrinkage = dim, float(shrinkage)
        self.count = 0
        self.mean = torch.zeros(dim, dtype=torch.float64)
        self.scatter = torch.zeros(dim, dim, dtype=torch.float64)
        self._map: tuple[Tensor, Tensor] | None = None  # (mean, W) in float32
        #: per-label count and sum of concepts (labelled updates): the class means, and
        #: with them the within-class covariance the open-set distances read
        self.class_count = torch.zeros(0, dtype=torch.float64)
        self.class_sum = torch.zeros(0, dim, dtype=torch.float64)
        self._within: Tensor | None = None  # W of the within-class covariance, float32
        #: bumped whenever the map changes (callers cache projections against it)
        self.version = 0

    def update(self, concepts: Tensor, labels: Tensor | None = None) -> None:
        """Add a batch (Chan's parallel merge of mean and scatter); ``labels`` also add to
        the class sums."""
        x = torch.as_tensor(concepts).to(torch.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise DataError(f"expected concepts [n, {self.dim}], got {tuple(x.shape)}")
        if not len(x):
            return
        if labels is not None:
            self._add_classes(x, torch.as_tensor(labels, dtype=torch.long).reshape(-1))
        n, m = self.count, len(x)
        batch_mean = x.mean(0)
        centred = x - batch_mean
        delta = batch_mean - self.mean
        self.scatter += centred.T @ centred + torch.outer(delta, delta) * (n * m / (n + m))
        self.mean += delta * (m / (n + m))
        self.count = n + m
        self._map = self._within = None
        self.version += 1

    def _add_classes(self, x: Tensor, labels: Tensor) -> None:
        if len(labels) != len(x) or (len(labels) and int(labels.min()) < 0):
            raise DataError(f"expected {len(x)} labels >= 0, got {len(labels)}")
        size = max(len(self.class_count), int(labels.max()) + 1)
        if size > len(self.class_count):
            grow = size - len(self.class_count)
            self.class_count = torch.cat([self.class_count, torch.zeros(grow, dtype=torch.float64)])
            pad = torch.zeros(grow, self.dim, dtype=torch.float64)
            self.class_sum = torch.cat([self.class_sum, pad])
        self.class_count.index_add_(0, labels, torch.ones(len(labels), dtype=torch.float64))
        self.class_sum.index_add_(0, labels, x)

    def _whitener(self) -> tuple[Tensor, Tensor]:
        if self._map is None:
            if self.count < 2:
                raise DataError("whitening needs at least 2 concepts: train on a task first")
            cov = self.scatter / (self.count - 1)
            self._map = (self.mean.to(torch.float32), self._inv_sqrt(cov))
        return self._map

    def _inv_sqrt(self, cov: Tensor) -> Tensor:
        """``C^{-1/2}`` of ``cov`` shrunk by ``shrinkage`` towards its mean variance."""
        target = torch.eye(self.dim, dtype=torch.float64) * cov.diagonal().mean()
        values, vectors = torch.linalg.eigh((1.0 - self.shrinkage) * cov + self.shrinkage * target)
        inv_sqrt = vectors @ torch.diag(values.clamp(min=1e-12).rsqrt()) @ vectors.T
        return inv_sqrt.to(torch.float32)

    def class_means(self) -> tuple[Tensor, Tensor]:
        """The labels seen with labelled updates and their mean concepts [k, dim]."""
        seen = torch.nonzero(self.class_count > 0).flatten()
        return seen, (self.class_sum[seen] / self.class_count[seen, None]).to(torch.float32)

    def _within_map(self) -> Tensor:
        """W of the pooled within-class covariance: the total scatter less the scatter of
        the class means (``sum_k n_k (m_k - m)(m_k - m)^T``), shrunk like the total one."""
        if self._within is None:
            seen = torch.nonzero(self.class_count > 0).flatten()
            n_k = self.class_count[seen]
            if int(n_k.sum()) != self.count or len(seen) < 1 or self.count - len(seen) < 1:
                raise DataError(
                    "open-set distances need every concept added with its label "
                    "(Whitening.update(concepts, labels)) and more concepts than classes"
                )
            centred = self.class_sum[seen] / n_k[:, None] - self.mean
            between = (centred * n_k[:, None]).T @ centred
            self._within = self._inv_sqrt((self.scatter - between) / (self.count - len(seen)))
        return self._within

    def transform(self, concepts: Tensor) -> Tensor:
        """Whitened, unit-norm concepts [n, dim]."""
        mean, w = self._whitener()
        x = torch.as_tensor(concepts, dtype=torch.float32)
        return torch.nn.functional.normalize((x - mean) @ w, dim=1)

    def class_distances(self, concepts: Tensor) -> Tensor:
        """Squared Mahalanobis distances [n, k] of ``concepts`` to each class mean under the
        shrunk within-class covariance (how far, not which way), classes in
        :meth:`class_means` order."""
        w = self._within_map()
        x = torch.as_tensor(concepts, dtype=torch.float32) @ w
        return torch.cdist(x, self.class_means()[1] @ w).square()

    def background(self, concepts: Tensor) -> Tensor:
        """Squared Mahalanobis distance [n] of ``concepts`` to the mean of every concept
        seen, in the same within-class metric: how far an input is from the data at
        large, whatever its class (the relative distance subtracts it)."""
        w = self._within_map()
        mean = self.mean.to(torch.float32)
        return ((torch.as_tensor(concepts, dtype=torch.float32) - mean) @ w).square().sum(1)

    # ---- persistence: the scatter's upper triangle in float32 (it is symmetric) ----
    def state_dict(self) -> dict[str, Tensor]:
        rows, cols = torch.triu_indices(self.dim, self.dim)
        return {
            "count": torch.tensor([self.count], dtype=torch.int64),
            "mean": self.mean.to(torch.float32),
            "scatter_upper": self.scatter[rows, cols].to(torch.float32),
            "class_count": self.class_count.to(torch.float32),
            "class_sum": self.class_sum.to(torch.float32),
        }

    def meta(self) -> dict[str, Any]:
        return {"dim": self.dim, "shrinkage": self.shrinkage}

    @classmethod
    def from_state(cls, state: dict[str, Tensor], meta: dict[str, Any]) -> Whitening:
        try:
            out = cls(int(meta["dim"]), float(meta["shrinkage"]))
            rows, cols = torch.triu_indices(out.dim, out.dim)
            scatter = torch.zeros(out.dim, out.dim, dtype=torch.float64)
            scatter[rows, cols] = state["scatter_upper"].to(torch.float64)
            out.scatter = scatter + scatter.T - torch.diag(scatter.diagonal())
            out.mean = state["mean"].to(torch.float64).reshape(out.dim)
            out.count = int(state["count"][0])
            if "class_count" in state:
                out.class_count = state["class_count"].to(torch.float64).reshape(-1)
                out.class_sum = state["class_sum"].to(torch.float64).reshape(-1, out.dim)
        except (KeyError, RuntimeError, TypeError, ValueError) as e:
            raise ArtifactError(f"a whitening state is not readable ({e})") from e
        return out

    @property
    def nbytes(self) -> int:
        return sum(int(t.numel() * t.element_size()) for t in self.state_dict().values())
