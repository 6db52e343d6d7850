"""What an anomaly version stores beside its weights (``task.json``) to score new inputs
exactly like training did: the input kind and columns, the scaling, the window, the
threshold and how it was chosen."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from neuroplast.errors import ArtifactError
from neuroplast.tasks._scaling import Scaler
from neuroplast.tasks.anomaly.config import InputKind

__all__ = ["AnomalyState"]


@dataclass
class AnomalyState:
    kind: InputKind
    columns: list[str]
    scaler: Scaler
    input_shape: list[int]
    threshold: dict[str, Any]
    window: int | None = None
    stride: int | None = None
    normal_class: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cut(self) -> float:
        return float(self.threshold["threshold"])

    def tensor(self, x: np.ndarray) -> Tensor:
        """Raw inputs (rows, windows or 0..1 images) scaled as in training, as float32."""
        values = np.asarray(x, dtype=np.float64)
        if self.kind == "tabular":
            values = self.scaler.transform(values)
        elif self.kind == "series":
            values = (values - self.scaler.offset[0]) / self.scaler.scale[0]
        return torch.from_numpy(values.astype(np.float32))

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "columns": self.columns,
            "scaling": self.scaler.to_json(),
            "input_shape": self.input_shape,
            "threshold": self.threshold,
            "window": self.window,
            "stride": self.stride,
            "normal_class": self.normal_class,
            **self.extra,
        }

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> AnomalyState:
        try:
            known = {
                "kind",
                "columns",
                "scaling",
                "input_shape",
                "threshold",
                "window",
                "stride",
                "normal_class",
            }
            return cls(
                kind=payload["kind"],
                columns=list(payload["columns"]),
                scaler=Scaler.from_json(payload["scaling"]),
                input_shape=[int(s) for s in payload["input_shape"]],
                threshold=dict(payload["threshold"]),
                window=payload.get("window"),
                stride=payload.get("stride"),
                normal_class=payload.get("normal_class"),
                extra={k: v for k, v in payload.items() if k not in known},
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(f"the stored anomaly state is malformed ({e}); re-train") from e
