"""Drift tests: a reference sample against a window of served traffic.

Each test is a class configured in its constructor and run with one verb,
``test(reference, current) -> TestResult``; the statistics are scipy's and river's, not
home-made:

- :class:`KSTest`: two-sample Kolmogorov-Smirnov (``scipy.stats.ks_2samp``) on one number
  per input (a prediction's confidence, a text's length or unknown-token rate, an image's
  mean pixel).
- :class:`ChiSquareTest`: the predicted-class mix, a 2 x K contingency table of reference
  and window counts (``scipy.stats.chi2_contingency``).
- :class:`ProjectedKSTest`: the model's pooled features, see its docstring for why this and
  not MMD.
- :class:`StreamingAccuracy`: feedback correctness through river's ADWIN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from neuroplast.errors import ConfigError, DataError
from neuroplast.monitoring._imports import optional_module

__all__ = [
    "ChiSquareTest",
    "KSTest",
    "ProjectedKSTest",
    "StreamingAccuracy",
    "TestResult",
]


@dataclass(frozen=True)
class TestResult:
    """One test on one window: its statistic, p-value (None for a streaming detector) and
    whether it raised the alarm at level ``alpha``."""

    __test__ = False  # not a pytest class

    name: str
    statistic: float
    p_value: float | None
    alarm: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.name,
            "statistic": self.statistic,
            "p_value": self.p_value,
            "alarm": self.alarm,
            **self.detail,
        }


def _alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ConfigError(f"alpha must be a number between 0 and 1 (exclusive), not {alpha!r}")
    return float(alpha)


def _sample(values: Any, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise DataError(f"{what} is empty: a drift test needs at least one value on each side")
    if not np.isfinite(array).all():
        raise DataError(f"{what} holds NaN or infinite values")
    return array


class KSTest:
    """Two-sample Kolmogorov-Smirnov test (two-sided, scipy's exact or asymptotic p-value)."""

    def __init__(self, name: str, *, alpha: float = 0.05) -> None:
        self.name = name
        self.alpha = _alpha(alpha)

    def test(self, reference: Any, current: Any) -> TestResult:
        stats = optional_module("scipy.stats")
        ref = _sample(reference, f"{self.name}: the reference")
        cur = _sample(current, f"{self.name}: the window")
        result = stats.ks_2samp(ref, cur)
        p = float(result.pvalue)
        return TestResult(self.name, float(result.statistic), p, p < self.alpha)


class ChiSquareTest:
    """Pearson's chi-square test of homogeneity on the predicted-class counts of the
    reference and the window (a 2 x K table; classes neither side predicted are dropped,
    no continuity correction). One class predicted on both sides: no evidence of a change
    (statistic 0, p-value 1)."""

    def __init__(self, name: str, num_classes: int, *, alpha: float = 0.05) -> None:
        if num_classes < 2:
            raise ConfigError(f"a class mix needs at least 2 classes, not {num_classes}")
        self.name = name
        self.num_classes = num_classes
        self.alpha = _alpha(alpha)

    def counts(self, classes: Any) -> np.ndarray:
        codes = np.asarray(classes, dtype=np.int64).ravel()
        if codes.size and (codes.min() < 0 or codes.max() >= self.num_classes):
            raise DataError(f"{self.name}: class codes must be in 0..{self.num_classes - 1}")
        return np.bincount(codes, minlength=self.num_classes)

    def test(self, reference: Any, current: Any) -> TestResult:
        stats = optional_module("scipy.stats")
        table = np.stack([self.counts(reference), self.counts(current)])
        if table[0].sum() == 0 or table[1].sum() == 0:
            raise DataError(f"{self.name}: the reference and the window both need predictions")
        table = table[:, table.sum(axis=0) > 0]
        detail = {"window_mix": (table[1] / table[1].sum()).round(4).tolist()}
        if table.shape[1] < 2:
            return TestResult(self.name, 0.0, 1.0, False, detail)
        chi2, p, _dof, _expected = stats.chi2_contingency(table, correction=False)
        return TestResult(self.name, float(chi2), float(p), float(p) < self.alpha, detail)


class ProjectedKSTest:
    """The model's pooled features: per-component KS tests on a PCA projection, with a
    Bonferroni correction over the components.

    Why not MMD with a permutation test: with a window of 500 and a reference of 2,000 in
    64 to 256 dimensions, each permutation recomputes a 2,500 x 2,500 kernel sum; the
    hundreds of permutations a p-value at 0.05 needs cost seconds per window on a 2-core
    machine, the p-value is random (it moves with the permutation seed), and the kernel's
    bandwidth is one more choice. Each component is a 1-D KS test (scipy), exact and fast,
    and the Bonferroni bound (``min(1, k * min p)``, the family-wise level of "any component
    moved") keeps the false-alarm rate at or below ``alpha`` whatever the dependence
    between components. Its price: a change that lives outside the top components, or only
    in their joint distribution, is missed.

    Where the projection is fitted (``fit_on``):

    - ``"pooled"`` (default): on the reference and the window together, per window
      (scikit-learn's PCA, full SVD: deterministic). The projection is then a function of
      the pooled inputs that does not know which came from where, so when nothing changed
      every split of the pool into a reference and a window is equally likely given it, and
      the exact KS p-value (the distribution over those splits) stays valid. A shift adds
      its own variance to the pool, so its direction tends to enter the top components.
    - ``"reference"``: once, on the reference alone. Its top components are fitted to that
      sample's own noise: it spreads more along them than new inputs of the same
      distribution do, so windows of unchanged traffic differ from it there
      (``benchmarks/drift_calibration.py``, Rotten Tomatoes features, 400 no-shift windows
      against fresh references of 600: 6.8 % under p 0.05 with the reference's own PCA,
      4.8 % with one fitted on another sample; with references of 1,200 the difference at
      p 0.01 was within the noise).
    """

    def __init__(
        self,
        name: str,
        *,
        components: int = 10,
        alpha: float = 0.05,
        fit_on: Literal["pooled", "reference"] = "pooled",
    ) -> None:
        if isinstance(components, bool) or not isinstance(components, int) or components < 1:
            raise ConfigError(f"components must be an integer >= 1, not {components!r}")
        if fit_on not in ("pooled", "reference"):
            raise ConfigError(f"fit_on must be 'pooled' or 'reference', not {fit_on!r}")
        self.name = name
        self.components = components
        self.alpha = _alpha(alpha)
        self.fit_on = fit_on
        self._pca: Any = None
        self._features = np.empty((0, 0))
        self._reference = np.empty((0, 0))

    def _pca_of(self, features: np.ndarray) -> Any:
        from sklearn.decomposition import PCA

        k = min(self.components, features.shape[1], len(features) - 1)
        return PCA(n_components=k, svd_solver="full").fit(features)

    def fit(self, reference: Any) -> ProjectedKSTest:
        """Keep the reference features ``[N, D]`` (and fit the reference's own projection,
        used by :meth:`project` for plots); returns ``self``."""
        ref = np.asarray(reference, dtype=np.float64)
        if ref.ndim != 2 or len(ref) < 2:
            raise DataError(f"{self.name}: reference features must be [N >= 2, D], not {ref.shape}")
        self._features = ref
        self._pca = self._pca_of(ref)
        self._reference = self._pca.transform(ref)
        return self

    @property
    def reference_projection(self) -> np.ndarray:
        """The reference features on the reference's own components ``[N, k]``."""
        if self._pca is None:
            raise ConfigError(f"{self.name}: call fit(reference) first")
        return self._reference

    def project(self, features: Any) -> np.ndarray:
        """``features`` on the reference's own components (for plots)."""
        if self._pca is None:
            raise ConfigError(f"{self.name}: call fit(reference) before test or project")
        projected: np.ndarray = self._pca.transform(np.asarray(features, dtype=np.float64))
        return projected

    def test(self, reference: Any, current: Any) -> TestResult:
        """``reference`` is refitted when it is not the one :meth:`fit` saw (pass ``None``
        to reuse the fitted one)."""
        if reference is not None:
            self.fit(reference)
        if self._pca is None:
            raise ConfigError(f"{self.name}: call fit(reference) before test")
        stats = optional_module("scipy.stats")
        cur = np.asarray(current, dtype=np.float64)
        if cur.ndim != 2 or len(cur) == 0 or cur.shape[1] != self._features.shape[1]:
            raise DataError(
                f"{self.name}: the window's features must be [N >= 1, {self._features.shape[1]}]"
                f", not {cur.shape}"
            )
        if self.fit_on == "pooled":
            pca = self._pca_of(np.concatenate([self._features, cur]))
            ref, cur = pca.transform(self._features), pca.transform(cur)
        else:
            ref, cur = self._reference, self._pca.transform(cur)
        ks = [stats.ks_2samp(ref[:, j], cur[:, j]) for j in range(cur.shape[1])]
        p_values = [float(r.pvalue) for r in ks]
        worst = int(np.argmin(p_values))
        corrected = min(1.0, len(p_values) * p_values[worst])
        detail = {"components": len(p_values), "component": worst}
        return TestResult(
            self.name, float(ks[worst].statistic), corrected, corrected < self.alpha, detail
        )


class StreamingAccuracy:
    """Correctness of the answers users gave feedback on, through river's ADWIN (adaptive
    windowing on the 0/1 error stream: it alarms when two sub-windows' error rates differ by
    more than its Hoeffding bound at confidence ``delta``). Stateful: :meth:`update` feeds
    the stream in order, :meth:`test` one window's worth of it, :meth:`reset` starts over."""

    def __init__(self, name: str = "accuracy (ADWIN)", *, delta: float = 0.002) -> None:
        self.name = name
        self.delta = _alpha(delta)
        self.reset()

    def reset(self) -> None:
        drift = optional_module("river.drift")
        self._detector = drift.ADWIN(delta=self.delta)
        self.seen = 0
        self.detections: list[int] = []

    def update(self, correct: bool) -> bool:
        """Feed one answer's correctness; True when ADWIN detects a change on it."""
        self._detector.update(0.0 if correct else 1.0)
        self.seen += 1
        if self._detector.drift_detected:
            self.detections.append(self.seen)
            return True
        return False

    def test(self, reference: Any, current: Sequence[bool]) -> TestResult:
        """Feed the window's correctness flags (``reference`` is unused: ADWIN compares the
        stream with its own past). The statistic is the window's accuracy (NaN without
        feedback); the alarm, whether ADWIN detected a change inside the window."""
        flags = [bool(c) for c in current]
        alarms = [i for i, c in enumerate(flags) if self.update(c)]
        accuracy = float(np.mean(flags)) if flags else math.nan
        detail = {"feedback": len(flags), "estimate": float(self._detector.estimation)}
        if alarms:
            detail["at"] = alarms[0]
        return TestResult(self.name, accuracy, None, bool(alarms), detail)
