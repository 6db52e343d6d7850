"""The autoencoders of anomaly detection, by architecture name.

Each maps a batch to its reconstruction; :class:`Scorer` turns that into one anomaly score
per example (the mean squared reconstruction error), which is also what the ONNX graph of
a version computes. ``arch_config`` is the ``model:`` keys plus ``input_shape`` (one
example's shape, set from the data).
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import Tensor, nn

from neuroplast.errors import ConfigError
from neuroplast.tasks._config import validate_section
from neuroplast.tasks.anomaly.config import (
    ARCHITECTURES,
    ConvAEConfig,
    DenseAEConfig,
    SeriesAEConfig,
)

__all__ = ["LSTMAE", "Conv1dAE", "ConvAE", "DenseAE", "Scorer", "build_model", "score"]


class DenseAE(nn.Module):
    """Rows -> hidden layers -> latent code -> the mirror image back to rows."""

    def __init__(self, features: int, cfg: DenseAEConfig) -> None:
        super().__init__()
        sizes = [features, *cfg.hidden_dims, cfg.latent_dim]
        self.encoder = self._stack(sizes, cfg.dropout)
        self.decoder = self._stack(sizes[::-1], cfg.dropout)

    @staticmethod
    def _stack(sizes: list[int], dropout: float) -> nn.Sequential:
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers += [nn.ReLU(), nn.Dropout(dropout)]
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


class Conv1dAE(nn.Module):
    """Windows -> strided 1-D convolutions -> a dense latent code -> transposed convolutions."""

    def __init__(self, window: int, cfg: SeriesAEConfig) -> None:
        super().__init__()
        depth = len(cfg.channels)
        if window % (2**depth):
            raise ConfigError(
                f"conv1d_autoencoder halves the window {depth} times: anomaly.window={window} "
                f"must be a multiple of {2**depth}"
            )
        pad, chans = cfg.kernel_size // 2, [1, *cfg.channels]
        enc: list[nn.Module] = []
        for a, b in itertools.pairwise(chans):
            enc += [nn.Conv1d(a, b, cfg.kernel_size, stride=2, padding=pad), nn.ReLU()]
        self.encoder = nn.Sequential(*enc)
        self.shape = (chans[-1], window // 2**depth)
        flat = self.shape[0] * self.shape[1]
        self.to_code = nn.Linear(flat, cfg.latent_dim)
        self.from_code = nn.Linear(cfg.latent_dim, flat)
        dec: list[nn.Module] = []
        for a, b in zip(chans[:0:-1], [*chans[-2:0:-1], chans[1]], strict=True):
            dec += [nn.ConvTranspose1d(a, b, 4, stride=2, padding=1), nn.ReLU()]
        self.decoder = nn.Sequential(*dec, nn.Conv1d(chans[1], 1, cfg.kernel_size, padding=pad))

    def forward(self, x: Tensor) -> Tensor:
        h = self.encoder(x.unsqueeze(1)).flatten(1)
        h = self.from_code(torch.relu(self.to_code(h))).view(-1, *self.shape)
        return self.decoder(torch.relu(h)).squeeze(1)


class LSTMAE(nn.Module):
    """Windows -> an LSTM's last state -> latent code -> repeated -> an LSTM decoder."""

    def __init__(self, window: int, cfg: SeriesAEConfig) -> None:
        super().__init__()
        self.window = window
        self.encoder = nn.LSTM(1, cfg.hidden_size, batch_first=True)
        self.to_code = nn.Linear(cfg.hidden_size, cfg.latent_dim)
        self.from_code = nn.Linear(cfg.latent_dim, cfg.hidden_size)
        self.decoder = nn.LSTM(cfg.hidden_size, cfg.hidden_size, batch_first=True)
        self.out = nn.Linear(cfg.hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        _, (h, _) = self.encoder(x.unsqueeze(-1))
        code = self.from_code(torch.tanh(self.to_code(h[-1])))
        steps = code.unsqueeze(1).expand(-1, self.window, -1)
        out, _ = self.decoder(steps)
        return self.out(out).squeeze(-1)


class ConvAE(nn.Module):
    """Images -> strided 2-D convolutions -> a dense code -> transposed convolutions (0..1)."""

    def __init__(self, shape: tuple[int, int, int], cfg: ConvAEConfig) -> None:
        super().__init__()
        channels, height, width = shape
        depth = len(cfg.channels)
        if height % (2**depth) or width % (2**depth):
            raise ConfigError(
                f"conv_autoencoder halves the image {depth} times: {height}x{width} must be "
                f"multiples of {2**depth} (use fewer model.channels)"
            )
        chans = [channels, *cfg.channels]
        enc: list[nn.Module] = []
        for a, b in itertools.pairwise(chans):
            enc += [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.ReLU()]
        self.encoder = nn.Sequential(*enc)
        self.shape = (chans[-1], height // 2**depth, width // 2**depth)
        flat = self.shape[0] * self.shape[1] * self.shape[2]
        self.to_code = nn.Linear(flat, cfg.latent_dim)
        self.from_code = nn.Linear(cfg.latent_dim, flat)
        dec: list[nn.Module] = []
        rev = chans[::-1]
        for i, (a, b) in enumerate(itertools.pairwise(rev)):
            dec.append(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1))
            dec.append(nn.ReLU() if i < depth - 1 else nn.Sigmoid())
        self.decoder = nn.Sequential(*dec)

    def forward(self, x: Tensor) -> Tensor:
        h = self.from_code(torch.relu(self.to_code(self.encoder(x).flatten(1))))
        return self.decoder(torch.relu(h).view(-1, *self.shape))


class Scorer(nn.Module):
    """An autoencoder's anomaly score: the mean squared reconstruction error per example."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return (self.model(x) - x).pow(2).flatten(1).mean(dim=1)


def score(model: nn.Module, x: Tensor, batch_size: int = 1024) -> Tensor:
    """Anomaly scores of ``x`` (in evaluation mode, batched)."""
    scorer = Scorer(model).eval()
    with torch.no_grad():
        return torch.cat([scorer(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def build_model(architecture: str, arch_config: dict[str, Any]) -> nn.Module:
    """The untrained autoencoder ``architecture`` for inputs of ``arch_config["input_shape"]``."""
    if architecture not in ARCHITECTURES:
        raise ConfigError(
            f"unknown anomaly architecture {architecture!r}; choose one of "
            f"{', '.join(ARCHITECTURES)}"
        )
    options = {k: v for k, v in arch_config.items() if k not in ("architecture", "input_shape")}
    shape = [int(s) for s in arch_config["input_shape"]]
    cfg = validate_section(ARCHITECTURES[architecture][0], options, "model")
    if architecture == "dense_autoencoder":
        return DenseAE(shape[0], cfg)  # type: ignore[arg-type]
    if architecture == "conv1d_autoencoder":
        return Conv1dAE(shape[0], cfg)  # type: ignore[arg-type]
    if architecture == "lstm_autoencoder":
        return LSTMAE(shape[0], cfg)  # type: ignore[arg-type]
    return ConvAE((shape[0], shape[1], shape[2]), cfg)  # type: ignore[arg-type]
