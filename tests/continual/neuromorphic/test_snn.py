"""The spiking attractor memory: ALIF and LIF against hand-computed membrane traces, STDP
against hand-computed weight changes, the spike and synapse counts, and a small fixed
memory that recalls better with reward-modulated STDP than without."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from neuroplast.continual.neuromorphic.config import SNNConfig
from neuroplast.continual.neuromorphic.snn import AttractorMemory, stdp_eligibility
from neuroplast.errors import ArtifactError, ConfigError, DataError


def _memory(size: int, **kw: object) -> AttractorMemory:
    base: dict[str, object] = {"num_timesteps": 6, "beta": 0.5, "input_gain": 1.0}
    return AttractorMemory(SNNConfig.model_validate(base | kw), size)


def test_alif_membrane_and_threshold_follow_the_hand_computed_trace() -> None:
    mem = _memory(1, neuron_type="alif", adaptation_strength=0.5, adaptation_decay=0.5)
    spikes, membrane = mem.simulate(torch.tensor([[0.9]]))
    # thr = 1 + 0.5 a; mem = 0.5 mem + 0.9; spike if mem > thr, then mem -= thr; a = 0.5 a + s
    assert spikes[0, :, 0].tolist() == [0, 1, 0, 1, 0, 1]
    expected = [0.9, 0.35, 1.075, 0.1875, 0.99375, 0.084375]
    torch.testing.assert_close(membrane[0, :, 0], torch.tensor(expected), atol=1e-6, rtol=0)


@pytest.mark.parametrize("kind", ["lif", "plif"])
def test_snntorch_lif_follows_the_hand_computed_trace(kind: str) -> None:
    spikes, membrane = _memory(1, neuron_type=kind).simulate(torch.tensor([[0.9]]))
    # no adaptation: the same steps with a fixed threshold of 1
    assert spikes[0, :, 0].tolist() == [0, 1, 1, 0, 1, 1]
    expected = [0.9, 0.35, 0.075, 0.9375, 0.36875, 0.084375]
    torch.testing.assert_close(membrane[0, :, 0], torch.tensor(expected), atol=1e-6, rtol=0)
    zeroed = _memory(1, neuron_type=kind, reset_mechanism="zero").simulate(torch.tensor([[0.9]]))
    assert zeroed[1][0, 1, 0] == 0.0 and zeroed[0][0, :, 0].tolist() == [0, 1, 0, 1, 0, 1]


def test_alif_without_adaptation_is_snntorchs_lif_with_recurrence() -> None:
    # (below saturation: snnTorch's Leaky judges a membrane still above threshold after a
    # reset against twice the threshold; ALIF does not)
    gen = torch.Generator().manual_seed(0)
    sims = 0.5 * torch.rand(5, 4, generator=gen)
    weights = 0.1 * torch.randn(4, 4, generator=gen)
    runs = []
    for kind in ("lif", "alif"):
        mem = _memory(4, neuron_type=kind, adaptation_strength=0.0, num_timesteps=30)
        mem.weights = weights.clone()
        runs.append(mem.simulate(sims))
    assert torch.equal(runs[0][0], runs[1][0])
    torch.testing.assert_close(runs[0][1], runs[1][1], atol=1e-5, rtol=0)


def test_spikes_synops_and_dense_macs_are_counted() -> None:
    mem = _memory(3, neuron_type="lif")
    mem.weights = torch.zeros(3, 3)
    mem.weights[1, 0], mem.weights[2, 0] = 0.05, -0.05  # assembly 0 reaches 1 and 2
    recall = mem.run(torch.tensor([[0.9, 0.0, 0.0]]))
    assert recall.spikes == 4  # assembly 0 fires at steps 1, 2, 4, 5; the others never
    assert recall.synops == 4 * 2 and recall.dense_macs == 1 * 6 * 3 * 3
    torch.testing.assert_close(recall.rates, torch.tensor([[4 / 6, 0.0, 0.0]]))
    mem.cfg = mem.cfg.model_copy(update={"lateral_inhibition": 0.01})
    assert mem.run(torch.tensor([[0.9, 0.0, 0.0]])).synops == 4 * (2 + 2)


def test_stdp_changes_weights_by_the_hand_computed_amounts() -> None:
    # neuron 0 fires at step 0, neuron 1 at step 1 (decay 0.5, depression 0.5):
    # pre 0 before post 1 potentiates W[1, 0] by s1[1] * x0[0] = 1;
    # post 0 before pre 1 depresses W[0, 1] by 0.5 * x0[0] * s1[1] = 0.5
    raster = torch.tensor([[[1, 0], [0, 1], [0, 0]]], dtype=torch.bool)
    e = stdp_eligibility(raster, 0.5, 0.5, torch.ones(1, 2))
    torch.testing.assert_close(e, torch.tensor([[0.0, -0.5], [1.0, 0.0]]))
    mem = _memory(2, stdp_lr=0.1, trace_decay=0.5, stdp_depression=0.5)
    recall = mem.run(torch.zeros(2, 2))
    recall = type(recall)(recall.rates, 0, 0, torch.cat([raster, raster]))
    delta = mem.reinforce(recall, torch.tensor([-1, 1]), torch.tensor([1.0, -1.0]))
    # input 0 (+1, every row) and input 1 (-1, row 1 only), averaged over the 2 inputs
    torch.testing.assert_close(delta, 0.1 / 2 * torch.tensor([[0.0, -0.5], [0.0, 0.0]]))
    plain = _memory(2, stdp_lr=0.1, trace_decay=0.5, reward_modulation=False)
    delta = plain.reinforce(recall, torch.tensor([1, 1]), torch.tensor([-1.0, -1.0]))
    torch.testing.assert_close(delta, 0.1 * torch.tensor([[0.0, 0.0], [1.0, 0.0]]))


_LABELS = torch.tensor([0, 0, 0, 1, 1, 1])


def _draw(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Each input is near its class's three prototypes (0.55) but nearer (0.62) to one
    prototype of the other class: the nearest prototype alone is wrong about 2 times in 3."""
    y = torch.randint(0, 2, (n,), generator=gen)
    sims = 0.25 + 0.03 * torch.randn(n, 6, generator=gen)
    own = (_LABELS[None, :] == y[:, None]).float()
    sims = sims * (1 - own) + own * (0.55 + 0.05 * torch.randn(n, 6, generator=gen))
    lure = 3 * (1 - y) + torch.randint(0, 3, (n,), generator=gen)
    sims[torch.arange(n), lure] = 0.62 + 0.05 * torch.randn(n, generator=gen)
    return sims, y


def _accuracy(mem: AttractorMemory, sims: torch.Tensor, y: torch.Tensor) -> float:
    score = mem.run(sims).rates + 1e-3 * sims  # ties of equal spike counts go to the nearer
    per_class = torch.stack([score[:, torch.eq(_LABELS, c)].max(dim=1).values for c in (0, 1)], 1)
    return float((per_class.argmax(dim=1) == y).float().mean())


def _trained_accuracy(lr: float) -> float:
    """Recall accuracy on 300 new inputs after 20 batches of 32 rewarded recalls."""
    cfg = SNNConfig(
        neuron_type="alif", num_timesteps=20, input_gain=0.6, trace_decay=0.95, stdp_lr=lr
    )
    mem, gen = AttractorMemory(cfg, 6), torch.Generator().manual_seed(0)
    for _ in range(20):
        sims, y = _draw(32, gen)
        mem.learn(sims, _LABELS, y)
    sims, y = _draw(300, torch.Generator().manual_seed(100))
    return _accuracy(mem, sims, y)


def test_reward_modulated_stdp_recalls_better_than_without_it() -> None:
    off, rewarded = _trained_accuracy(0.0), _trained_accuracy(0.05)
    assert off < 0.45  # the lure wins without learned recurrence
    assert rewarded >= off + 0.3, (off, rewarded)


def test_remap_resize_and_state_round_trip(tmp_path) -> None:
    mem = _memory(3, neuron_type="plif")
    mem.weights = torch.arange(9, dtype=torch.float32).reshape(3, 3) / 10
    mem.remap(torch.tensor([2, -1, 0]))
    assert mem.weights[0, 2] == pytest.approx(0.6) and mem.weights[2, 0] == pytest.approx(0.2)
    assert mem.weights[1].abs().sum() == 0 and mem.size == 3
    mem.resize(5)
    assert mem.weights.shape == (5, 5) and mem.beta.shape == (5,)
    save_file(mem.state_dict(), tmp_path / "snn.safetensors")
    back = AttractorMemory.from_state(load_file(tmp_path / "snn.safetensors"), mem.meta())
    sims = torch.rand(4, 5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(back.run(sims).rates, mem.run(sims).rates)
    assert torch.equal(back.weights, mem.weights) and torch.equal(back.beta, mem.beta)
    # 3 non-zero synapses of 25: (2 int32 indices + 1 float32) each, the size, 5 decays
    assert int((mem.weights != 0).sum()) == 3 and mem.nbytes == 3 * 12 + 8 + 5 * 4
    dense = _memory(5, neuron_type="plif")
    dense.load_state_dict({"weights": mem.weights, "beta": mem.beta})
    assert torch.equal(dense.weights, mem.weights)
    with pytest.raises(ArtifactError, match="not readable"):
        dense.load_state_dict({"beta": mem.beta})


def test_plif_learns_its_time_constants() -> None:
    mem = _memory(2, neuron_type="plif", num_timesteps=10, beta=0.5)
    sims = torch.tensor([[0.6, 0.6]] * 4)
    before = mem.fit_time_constants(sims, torch.tensor([1, 1, 1, 1]), epochs=1, lr=0.0)
    after = mem.fit_time_constants(sims, torch.tensor([1, 1, 1, 1]), epochs=10, lr=0.1)
    assert after < before and mem.beta[1] > mem.beta[0]
    with pytest.raises(ConfigError, match="plif"):
        _memory(2, neuron_type="lif").fit_time_constants(sims, torch.tensor([1, 1, 1, 1]))


def test_bad_input_is_refused() -> None:
    mem = _memory(3, record_raster=False)
    with pytest.raises(DataError, match=r"\[n, 3\]"):
        mem.run(torch.zeros(2, 4))
    with pytest.raises(DataError, match="NaN"):
        mem.run(torch.tensor([[0.1, float("nan"), 0.2]]))
    recall = mem.run(torch.zeros(2, 3))
    with pytest.raises(ConfigError, match="raster"):
        mem.reinforce(recall, torch.tensor([0, 1]), torch.ones(2))
    recall = mem.run(torch.zeros(2, 3), record=True)
    with pytest.raises(DataError, match="past the memory"):
        mem.reinforce(recall, torch.tensor([0, 3]), torch.ones(2))
    with pytest.raises(DataError, match="one target and one reward"):
        mem.reinforce(recall, torch.tensor([0]), torch.ones(2))
