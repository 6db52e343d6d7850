"""The forecasters: ``[batch, lookback, features]`` (the target first) -> ``[batch, horizon]``.

Both forecast relative to the window's last target value by default (``relative: true``):
the target channel enters as its change from that value and the output is added back to
it, so that a trend can carry the forecast beyond the range seen in training (the scaling
is fitted on the training part).
``arch_config`` is the ``model:`` keys plus ``features``, ``lookback`` and ``horizon``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from neuroplast.errors import ConfigError
from neuroplast.tasks._config import validate_section
from neuroplast.tasks.forecasting.config import (
    ARCHITECTURES,
    LSTMForecasterConfig,
    TCNForecasterConfig,
)

__all__ = ["LSTMForecaster", "TCNForecaster", "build_model"]


def _relative(x: Tensor, relative: bool) -> tuple[Tensor, Tensor]:
    """The window with its target channel minus the last target value, and that value
    (unchanged and 0 when not ``relative``)."""
    last = x[:, -1:, :1]
    if not relative:
        return x, torch.zeros_like(last[:, :, 0])
    return torch.cat([x[:, :, :1] - last, x[:, :, 1:]], dim=2), last[:, :, 0]


class LSTMForecaster(nn.Module):
    """An LSTM over the window; a linear head maps its last state to every horizon step."""

    def __init__(self, features: int, horizon: int, cfg: LSTMForecasterConfig) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            features,
            cfg.hidden_size,
            num_layers=cfg.num_layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
        )
        self.head = nn.Linear(cfg.hidden_size, horizon)
        self.relative = cfg.relative

    def forward(self, x: Tensor) -> Tensor:
        rel, last = _relative(x, self.relative)
        out, _ = self.lstm(rel)
        return self.head(out[:, -1]) + last


class _CausalBlock(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: Tensor) -> Tensor:
        return h + self.drop(torch.relu(self.conv(F.pad(h, (self.pad, 0)))))


class TCNForecaster(nn.Module):
    """Causal dilated 1-D convolutions (dilations 1, 2, 4, ...) with residual connections; a
    linear head maps the last step's channels to every horizon step."""

    def __init__(self, features: int, horizon: int, cfg: TCNForecasterConfig) -> None:
        super().__init__()
        self.inp = nn.Conv1d(features, cfg.channels, 1)
        self.blocks = nn.Sequential(
            *(
                _CausalBlock(cfg.channels, cfg.kernel_size, 2**i, cfg.dropout)
                for i in range(cfg.levels)
            )
        )
        self.head = nn.Linear(cfg.channels, horizon)
        self.relative = cfg.relative

    def forward(self, x: Tensor) -> Tensor:
        rel, last = _relative(x, self.relative)
        h = self.blocks(self.inp(rel.transpose(1, 2)))
        return self.head(h[:, :, -1]) + last


def build_model(architecture: str, arch_config: dict[str, Any]) -> nn.Module:
    """The untrained forecaster ``architecture`` (``arch_config`` holds ``features`` and
    ``horizon`` from the data)."""
    if architecture not in ARCHITECTURES:
        raise ConfigError(
            f"unknown forecasting architecture {architecture!r}; choose one of "
            f"{', '.join(ARCHITECTURES)}"
        )
    derived = ("architecture", "features", "lookback", "horizon")
    options = {k: v for k, v in arch_config.items() if k not in derived}
    cfg = validate_section(ARCHITECTURES[architecture], options, "model")
    features, horizon = int(arch_config["features"]), int(arch_config["horizon"])
    if architecture == "lstm_forecaster":
        return LSTMForecaster(features, horizon, cfg)  # type: ignore[arg-type]
    return TCNForecaster(features, horizon, cfg)  # type: ignore[arg-type]
