"""What an explanation is: per-token or per-pixel scores for one input and one class."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "ImageExplanation",
    "Method",
    "TokenExplanation",
    "heat_on_object",
]

#: A registered explanation method's name (see :func:`neuroplast.explain.list_methods`).
Method = str


@dataclass(frozen=True)
class TokenExplanation:
    """Scores of the tokens of one text for the class ``target``.

    ``scores[i]`` belongs to ``tokens[i]``. For signed methods a positive score pushes the
    model towards ``target`` and a negative one away from it; ``delta`` is integrated
    gradients' completeness error (sum of scores minus ``f(x) - f(baseline)``).
    """

    text: str
    tokens: list[str]
    ids: list[int]
    scores: np.ndarray
    method: str
    target: int
    target_label: str
    probability: float
    predicted_label: str
    delta: float | None = None
    logit_gap: float | None = None

    @property
    def signed(self) -> bool:
        from neuroplast.explain._methods import is_signed

        return is_signed(self.method)

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """Up to ``k`` tokens that most support ``target`` (largest first; for signed
        methods only tokens with a positive score)."""
        order = np.argsort(-self.scores, kind="stable")[:k]
        return [
            (self.tokens[i], float(self.scores[i]))
            for i in order
            if not self.signed or self.scores[i] > 0
        ]

    def bottom(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` tokens that most oppose ``target`` (signed methods; most negative first)."""
        order = np.argsort(self.scores, kind="stable")[:k]
        return [(self.tokens[i], float(self.scores[i])) for i in order if self.scores[i] < 0]

    @property
    def relative_delta(self) -> float | None:
        """``|delta| / |f(x) - f(baseline)|`` for integrated gradients, else None."""
        if self.delta is None or self.logit_gap is None:
            return None
        return abs(self.delta) / max(abs(self.logit_gap), 1e-6)


@dataclass(frozen=True)
class ImageExplanation:
    """A heat map ``[H, W]`` over one image (uint8 ``[C, H, W]``) for the class ``target``."""

    source: str
    image: np.ndarray
    heat: np.ndarray
    method: str
    target: int
    target_label: str
    probability: float
    predicted_label: str
    extras: dict[str, float] = field(default_factory=dict)

    def heat_on_object(self) -> float:
        """Share of the positive heat on pixels that are not background (value > 0)."""
        return heat_on_object(self.heat, self.image)


def heat_on_object(heat: np.ndarray, image: np.ndarray) -> float:
    """Share of ``heat``'s positive mass ``[H, W]`` where ``image`` (``[C, H, W]``) is non-zero.

    Returns NaN when the map has no positive heat at all.
    """
    positive = np.clip(heat, 0.0, None)
    total = float(positive.sum())
    if total <= 0.0:
        return float("nan")
    foreground = (np.asarray(image) > 0).any(axis=0)
    return float(positive[foreground].sum() / total)
