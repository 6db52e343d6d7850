"""A convolutional variational autoencoder on 28x28 images in [0, 1].

The decoder gives Bernoulli logits per pixel; the loss is the negative ELBO per image:
``recon + beta * kl`` with ``recon = sum BCE(logits, x)`` and
``kl = 0.5 * sum(mu^2 + exp(logvar) - 1 - logvar)`` (the KL divergence of the encoder's
Gaussian from N(0, I)). When conditional, the one-hot class joins the encoder's features and
the latent code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroplast.tasks.image_generation.config import VAEConfig

__all__ = ["ConvVAE", "elbo_terms"]


def elbo_terms(logits: Tensor, x: Tensor, mu: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor]:
    """Per image: the reconstruction term (nats, summed over pixels) and the KL term."""
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
    return recon, kl


class ConvVAE(nn.Module):
    """``forward(x, y) -> (logits, mu, logvar)``; :meth:`loss` and :meth:`sample`."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        c0, c1 = config.channels
        extra = config.num_classes if config.conditional else 0
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c0, 4, 2, 1), nn.ReLU(), nn.Conv2d(c0, c1, 4, 2, 1), nn.ReLU()
        )
        self.to_hidden = nn.Sequential(nn.Linear(c1 * 49 + extra, config.hidden), nn.ReLU())
        self.to_stats = nn.Linear(config.hidden, 2 * config.latent_dim)
        self.from_latent = nn.Sequential(
            nn.Linear(config.latent_dim + extra, config.hidden),
            nn.ReLU(),
            nn.Linear(config.hidden, c1 * 49),
            nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(c1, c0, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(c0, 1, 4, 2, 1)
        )

    def _with_class(self, h: Tensor, y: Tensor | None) -> Tensor:
        if not self.config.conditional:
            return h
        if y is None:
            raise ValueError("a conditional VAE needs the class of every image")
        return torch.cat([h, F.one_hot(y, self.config.num_classes).to(h.dtype)], dim=1)

    def encode(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        h = self.to_hidden(self._with_class(self.encoder(x).flatten(1), y))
        mu, logvar = self.to_stats(h).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.from_latent(self._with_class(z, y))
        logits: Tensor = self.decoder(h.view(len(z), self.config.channels[1], 7, 7))
        return logits

    def forward(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """The reconstruction's logits at the posterior mean, and the posterior's mean and
        log-variance."""
        mu, logvar = self.encode(x, y)
        return self.decode(mu, y), mu, logvar

    def loss(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The mean negative ELBO (``recon + beta * kl``) per image, in nats."""
        mu, logvar = self.encode(x, y)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()  # one sample of q(z | x)
        logits = self.decode(z, y)
        recon, kl = elbo_terms(logits, x, mu, logvar)
        return (recon + self.config.beta * kl).mean()

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | None, generator: torch.Generator) -> Tensor:
        """``n`` images in [0, 1]: the decoder's mean at latent codes drawn from N(0, I)."""
        z = torch.randn(n, self.config.latent_dim, generator=generator)
        return torch.sigmoid(self.decode(z, y))
