"""Feature scaling fitted on the training split and stored with the version (JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from neuroplast.errors import ArtifactError

__all__ = ["Scaler"]

ScalingKind = Literal["standard", "minmax", "none"]


@dataclass(frozen=True)
class Scaler:
    """``(x - offset) / scale`` per column; ``inverse`` undoes it.

    ``standard``: mean and standard deviation; ``minmax``: minimum and range; ``none``:
    0 and 1. A constant column gets scale 1 (it stays constant instead of dividing by 0)."""

    kind: ScalingKind
    offset: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, kind: ScalingKind) -> Scaler:
        """Fitted over the first axis of ``values`` (rows x columns, or a 1-D series)."""
        data = np.asarray(values, dtype=np.float64)
        if kind == "standard":
            offset, scale = data.mean(axis=0), data.std(axis=0)
        elif kind == "minmax":
            offset, scale = data.min(axis=0), data.max(axis=0) - data.min(axis=0)
        else:
            offset, scale = np.zeros(data.shape[1:]), np.ones(data.shape[1:])
        scale = np.where(np.asarray(scale) > 1e-12, scale, 1.0)
        return cls(kind, np.atleast_1d(offset), np.atleast_1d(scale))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return (np.asarray(values, dtype=np.float64) - self.offset) / self.scale

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float64) * self.scale + self.offset

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "offset": self.offset.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_json(cls, payload: Any) -> Scaler:
        try:
            offset = np.asarray(payload["offset"], dtype=np.float64)
            scale = np.asarray(payload["scale"], dtype=np.float64)
            kind = payload["kind"]
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(f"the stored scaling is malformed ({e}); re-train the model") from e
        if offset.shape != scale.shape or kind not in ("standard", "minmax", "none"):
            raise ArtifactError("the stored scaling is malformed; re-train the model")
        return cls(kind, offset, scale)
