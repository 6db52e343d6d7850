"""The arithmetic of the image generators, against hand computation: the VAE's ELBO terms,
the DDPM noise schedules and one denoising step (DDPM and DDIM), DDIM determinism, FID
against the closed form and k-NN precision/recall on sets whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuroplast.errors import DataError
from neuroplast.tasks.image_generation.config import DDPMConfig, VAEConfig
from neuroplast.tasks.image_generation.diffusion import NoiseSchedule, ddim_timesteps
from neuroplast.tasks.image_generation.metrics import fid, frechet_distance, precision_recall
from neuroplast.tasks.image_generation.unet import DDPMUNet
from neuroplast.tasks.image_generation.vae import ConvVAE, elbo_terms


def test_elbo_terms_match_hand_computation() -> None:
    # pixels x = (1, 0) with logits (0, ln 3): BCE = ln 2 + ln 4 = 3 ln 2
    logits = torch.tensor([[0.0, math.log(3.0)]])
    x = torch.tensor([[1.0, 0.0]])
    # mu = (1, 0), logvar = (0, ln 2): KL = 0.5 [(1 + 1 - 1 - 0) + (0 + 2 - 1 - ln 2)]
    mu = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)]])
    recon, kl = elbo_terms(logits, x, mu, logvar)
    assert float(recon[0]) == pytest.approx(3 * math.log(2.0), abs=1e-6)
    assert float(kl[0]) == pytest.approx(1.0 - math.log(2.0) / 2, abs=1e-6)


def test_vae_loss_is_reconstruction_plus_beta_kl_with_one_posterior_sample() -> None:
    torch.manual_seed(0)
    vae = ConvVAE(VAEConfig(latent_dim=3, channels=[4, 4], hidden=8, beta=0.5))
    x = torch.rand(2, 1, 28, 28)
    torch.manual_seed(1)
    loss = vae.loss(x)
    torch.manual_seed(1)
    mu, logvar = vae.encode(x)
    z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
    recon, kl = elbo_terms(vae.decode(z), x, mu, logvar)
    assert float(loss.detach()) == pytest.approx(float((recon + 0.5 * kl).mean()), rel=1e-6)
    assert float(recon.detach().mean()) > 400  # about 784 ln 2 for an untrained decoder


def test_linear_and_cosine_schedules() -> None:
    linear = NoiseSchedule(1000, "linear", beta_start=1e-4, beta_end=0.02)
    assert float(linear.betas[0]) == pytest.approx(1e-4)
    assert float(linear.betas[-1]) == pytest.approx(0.02)
    step = (0.02 - 1e-4) / 999
    assert float(linear.abar[1]) == pytest.approx((1 - 1e-4) * (1 - 1e-4 - step), rel=1e-12)
    cosine = NoiseSchedule(10, "cosine")
    f = [math.cos((t / 10 + 0.008) / 1.008 * math.pi / 2) ** 2 for t in range(11)]
    assert float(cosine.abar[0]) == pytest.approx(f[1] / f[0], rel=1e-12)
    assert float(cosine.abar[4]) == pytest.approx(f[5] / f[0], rel=1e-12)
    assert float(cosine.betas[-1]) == pytest.approx(0.999)  # abar(T) = 0, clipped


def test_noising_and_one_ddpm_and_ddim_step_by_hand() -> None:
    s = NoiseSchedule(3, "linear", beta_start=0.1, beta_end=0.3)  # betas 0.1, 0.2, 0.3
    assert s.abar.tolist() == pytest.approx([0.9, 0.72, 0.504])
    x0, eps = torch.full((1, 1, 1, 1), 0.5), torch.full((1, 1, 1, 1), 0.2)
    xt = s.noise(x0, torch.tensor([1]), eps)
    assert float(xt) == pytest.approx(math.sqrt(0.72) * 0.5 + math.sqrt(0.28) * 0.2, rel=1e-6)
    x = torch.ones(1, 1, 1, 1)
    # DDPM at t = 2: mean = (1 - 0.3 / sqrt(0.496) * 0.5) / sqrt(0.7) = 0.94066...,
    # variance = 0.3 * 0.28 / 0.496 = 0.16935...
    mean = float(s.ddpm_step(x, 2, torch.full_like(x, 0.5), None))
    assert mean == pytest.approx(0.940662, abs=1e-5)
    noisy = float(s.ddpm_step(x, 2, torch.full_like(x, 0.5), torch.ones_like(x)))
    assert noisy == pytest.approx(0.940662 + math.sqrt(0.169355), abs=1e-5)
    assert float(s.ddpm_step(x, 0, torch.full_like(x, 0.5), torch.ones_like(x))) == (
        pytest.approx((1 - 0.1 / math.sqrt(0.1) * 0.5) / math.sqrt(0.9), abs=1e-6)
    )  # no noise at the last step
    # DDIM from t = 2 to 0, no clipping: x0 = (0.5 - sqrt(0.496) 0.2) / sqrt(0.504) = 0.50589
    half = torch.full_like(x, 0.5)
    prev = float(s.ddim_step(half, 2, 0, torch.full_like(x, 0.2), clip=False))
    assert prev == pytest.approx(math.sqrt(0.9) * 0.505889 + math.sqrt(0.1) * 0.2, abs=1e-5)
    assert ddim_timesteps(1000, 50)[:2] == [999, 979] and ddim_timesteps(1000, 50)[-1] == 0
    assert len(ddim_timesteps(1000, 50)) == 50 and ddim_timesteps(5, 50) == [4, 3, 2, 1, 0]


def test_ddim_sampling_is_deterministic_for_a_seed() -> None:
    torch.manual_seed(0)
    net = DDPMUNet(DDPMConfig(width=8, timesteps=20, conditional=True)).eval()

    def draw(seed: int, **kw: object) -> torch.Tensor:
        return net.sample(3, None, torch.Generator().manual_seed(seed), steps=4, **kw)  # type: ignore[arg-type]

    first = draw(5)
    assert torch.equal(first, draw(5)) and not torch.equal(first, draw(6))
    assert first.shape == (3, 1, 28, 28) and 0.0 <= float(first.min()) <= float(first.max()) <= 1.0
    y = torch.tensor([1, 2, 3])
    guided = net.sample(3, y, torch.Generator().manual_seed(5), steps=4, guidance=2.0)
    plain = net.sample(3, y, torch.Generator().manual_seed(5), steps=4, guidance=0.0)
    assert not torch.equal(guided, plain)


def test_fid_of_a_set_against_itself_is_zero_and_gaussians_match_the_closed_form() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3000, 4))
    assert fid(a, a) == pytest.approx(0.0, abs=1e-8)
    # N(0, I) against N(m, diag(s^2)): |m|^2 + sum(1 + s^2 - 2 s)
    m, s = np.array([1.0, 0.0, -2.0, 0.5]), np.array([1.0, 2.0, 0.5, 3.0])
    exact = float(m @ m + np.sum(1 + s**2 - 2 * s))
    assert frechet_distance(np.zeros(4), np.eye(4), m, np.diag(s**2)) == pytest.approx(exact)
    b = rng.normal(size=(20000, 4)) * s + m
    c = rng.normal(size=(20000, 4))
    assert fid(c, b) == pytest.approx(exact, rel=0.03)  # sampling error only


def test_precision_and_recall_on_sets_whose_answer_is_known() -> None:
    rng = np.random.default_rng(1)
    cluster_a = rng.normal(size=(200, 2)) * 0.1
    cluster_b = rng.normal(size=(200, 2)) * 0.1 + 10.0
    real = np.concatenate([cluster_a, cluster_b])
    same = precision_recall(real, real, k=3)
    assert (same.precision, same.recall) == (1.0, 1.0)
    one_mode = cluster_a + rng.normal(size=cluster_a.shape) * 1e-5  # mode a only, all of it
    half = precision_recall(real, one_mode, k=3)
    assert (half.precision, half.recall) == (1.0, 0.5)
    far = precision_recall(real, np.concatenate([cluster_a[:100], cluster_a[:100] + 50.0]), k=3)
    assert far.precision == pytest.approx(0.5)
    with pytest.raises(DataError, match="needs more than 3 points"):
        precision_recall(real, real[:3], k=3)
