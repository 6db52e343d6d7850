"""The spiking attractor memory: one assembly (neuron) per prototype in a recurrent layer.
Prototype similarities drive it for ``num_timesteps``; recurrent weights learned by
reward-modulated STDP let assemblies that were rightly recalled together excite each other
and silence the ones that answered wrongly. LIF and PLIF are snnTorch's ``Leaky`` neurons
(immediate reset, PLIF with a learnable decay per assembly); ALIF and the STDP rule are
written here. Every recall counts its spikes and synaptic operations beside the
multiply-accumulates a dense recurrent layer of the same width would do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from neuroplast.continual.neuromorphic.config import SNNConfig
from neuroplast.errors import ArtifactError, ConfigError, DataError

__all__ = ["ALIF", "AttractorMemory", "Recall", "stdp_eligibility"]

SCHEMA_VERSION = 1
_EVENT_DENSITY = 0.05  # below this share of neurons firing in a step, recurrence is event-driven
State = tuple[torch.Tensor, ...]


@dataclass(frozen=True)
class Recall:
    """What one batch of recalls did: ``rates`` [n, P] (spikes per step of each assembly),
    the batch's total ``spikes`` and synaptic operations ``synops`` (each spike delivered
    to its non-zero synapses), the ``raster`` [n, T, P] (bool) when recorded, and the
    ``dense_macs`` of a dense recurrent layer of the same width over the same steps."""

    rates: torch.Tensor
    spikes: int
    synops: int
    raster: torch.Tensor | None = None
    dense_macs: int = 0

    @property
    def spikes_per_input(self) -> float:
        return self.spikes / max(1, len(self.rates))

    @property
    def synops_per_input(self) -> float:
        return self.synops / max(1, len(self.rates))


class ALIF:
    """Adaptive LIF: each spike raises the threshold, which relaxes back with
    ``adaptation_decay``. Per step: ``thr = threshold + strength * a``; ``mem = beta * mem
    + drive``; spike if ``mem > thr``; reset (subtract ``thr`` or to zero); ``a = decay *
    a + spike``."""

    def __init__(self, cfg: SNNConfig) -> None:
        self.cfg = cfg

    def init(self, n: int, size: int) -> State:
        return torch.zeros(n, size), torch.zeros(n, size)

    def step(self, drive: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        mem, adapt = state
        cfg = self.cfg
        thr = cfg.threshold + cfg.adaptation_strength * adapt
        mem = cfg.beta * mem + drive
        spk = (mem > thr).to(mem.dtype)
        mem = mem - spk * thr if cfg.reset_mechanism == "subtract" else mem * (1.0 - spk)
        return spk, (mem, cfg.adaptation_decay * adapt + spk)


class _Leaky:
    """snnTorch's Leaky neuron (``reset_delay=False``: the reset happens at the spike's
    step, as in :class:`ALIF`); PLIF learns one decay per assembly."""

    def __init__(self, cfg: SNNConfig, size: int, beta: torch.Tensor | None = None) -> None:
        try:
            import snntorch
        except ImportError as e:
            raise ConfigError(
                f"snn.neuron_type: {cfg.neuron_type} uses snnTorch: pip install "
                "'neuroplast[neuro]' (or set neuron_type: alif)"
            ) from e
        learn = cfg.neuron_type == "plif"
        init = beta if beta is not None else torch.full((size,), cfg.beta)
        self.neuron = snntorch.Leaky(
            beta=init.clone() if learn else cfg.beta,
            threshold=cfg.threshold,
            learn_beta=learn,
            reset_mechanism=cfg.reset_mechanism,
            reset_delay=False,
        )

    @property
    def beta(self) -> torch.Tensor:
        return torch.as_tensor(self.neuron.beta).detach().clone()

    def init(self, n: int, size: int) -> State:
        return (torch.zeros(n, size),)

    def step(self, drive: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        spk, mem = self.neuron(drive, state[0])
        return spk, (mem,)


def stdp_eligibility(
    raster: torch.Tensor, decay: float, depression: float, post_weight: torch.Tensor
) -> torch.Tensor:
    """The STDP change of ``W[post, pre]`` over a batch: ``raster`` [n, T, P] spikes,
    traces ``x_t = decay * x_{t-1} + s_t``; pre-before-post potentiates by ``s_t[post] *
    x_{t-1}[pre]``, post-before-pre depresses by ``depression * x_{t-1}[post] *
    s_t[pre]``. ``post_weight`` [n, P] scales each input's postsynaptic rows (the reward
    and the target assembly). Returns [P, P]."""
    spikes = raster.to(torch.float32).transpose(0, 1)  # [T, n, P]
    traces = torch.zeros_like(spikes)
    trace = torch.zeros_like(spikes[0])
    for t in range(len(spikes)):
        traces[t] = trace  # the trace before step t's spikes
        trace = decay * trace + spikes[t]
    gate = post_weight.to(torch.float32)[None]
    potentiate = torch.einsum("tni,tnj->ij", spikes * gate, traces)
    depress = torch.einsum("tni,tnj->ij", traces * gate, spikes)
    return potentiate - depression * depress


def _recurrent(spk: torch.Tensor, outgoing: torch.Tensor) -> torch.Tensor:
    """``spk @ W.T`` (``outgoing`` is ``W.T``): event-driven when few neurons fired, each
    spike adding its neuron's outgoing synapses, as a spiking chip would."""
    if spk.requires_grad or float(spk.mean()) > _EVENT_DENSITY:
        return spk @ outgoing
    rows, pre = torch.nonzero(spk, as_tuple=True)
    out = torch.zeros(spk.shape[0], outgoing.shape[1], dtype=outgoing.dtype)
    if len(rows):
        out.index_add_(0, rows, outgoing[pre] * spk[rows, pre, None])
    return out


class AttractorMemory:
    """A recurrent spiking layer with ``capacity`` assemblies (one per prototype row)."""

    def __init__(self, cfg: SNNConfig, capacity: int) -> None:
        if capacity < 0:
            raise ConfigError(f"an attractor memory needs capacity >= 0, got {capacity}")
        self.cfg = cfg
        self.size = capacity
        self.weights = torch.eye(capacity) * cfg.self_excitation
        self._neuron: ALIF | _Leaky = self._make_neuron(capacity)

    def _make_neuron(self, size: int, beta: torch.Tensor | None = None) -> ALIF | _Leaky:
        if self.cfg.neuron_type == "alif":
            return ALIF(self.cfg)
        return _Leaky(self.cfg, size, beta)

    # ---- recall ----
    def current(self, similarities: torch.Tensor) -> torch.Tensor:
        """Input current per step: ``input_gain * max(similarity - input_offset, 0)``."""
        return self.cfg.input_gain * (similarities - self.cfg.input_offset).clamp(min=0.0)

    def _check(self, similarities: Any) -> torch.Tensor:
        sims = torch.as_tensor(similarities, dtype=torch.float32)
        if sims.ndim != 2 or sims.shape[1] != self.size:
            raise DataError(
                f"expected similarities of shape [n, {self.size}] (one column per assembly), "
                f"got {tuple(sims.shape)}: resize the memory to the prototypes first"
            )
        if not torch.isfinite(sims).all():
            raise DataError("the similarities hold NaN or infinite values")
        return sims

    def simulate(self, similarities: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Spikes and membranes of every step, each [n, T, P] (for tests and plots)."""
        drive0 = self.current(self._check(similarities))
        n, size = drive0.shape
        state = self._neuron.init(n, size)
        spk = torch.zeros(n, size)
        inhibition = self.cfg.lateral_inhibition
        spikes, mems = [], []
        outgoing = self.weights.T.contiguous() if bool(self.weights.any()) else None
        for _ in range(self.cfg.num_timesteps):
            drive = drive0 if outgoing is None else drive0 + _recurrent(spk, outgoing)
            if inhibition:
                drive = drive - inhibition * (spk.sum(dim=1, keepdim=True) - spk)
            spk, state = self._neuron.step(drive, state)
            spikes.append(spk)
            mems.append(state[0])
        return torch.stack(spikes, dim=1), torch.stack(mems, dim=1)

    def fanout(self) -> torch.Tensor:
        """Synapses each assembly's spike reaches: its non-zero outgoing weights, plus
        every other assembly when lateral inhibition is on."""
        out = (self.weights != 0).sum(dim=0)
        if self.cfg.lateral_inhibition and self.size:
            out = out + (self.size - 1)
        return out

    def run(self, similarities: Any, *, record: bool | None = None) -> Recall:
        """Drive the layer with ``similarities`` [n, P] for ``num_timesteps`` steps."""
        with torch.no_grad():
            raster, _ = self.simulate(similarities)
        n, steps, size = raster.shape
        per_neuron = raster.sum(dim=(0, 1))
        keep = self.cfg.record_raster if record is None else record
        return Recall(
            rates=raster.mean(dim=1),
            spikes=int(per_neuron.sum()),
            synops=int((per_neuron * self.fanout()).sum()),
            dense_macs=n * steps * size * size,
            raster=raster.bool() if keep else None,
        )

    # ---- learning ----
    def reinforce(self, recall: Recall, target: Any, reward: Any) -> torch.Tensor:
        """Reward-modulated STDP: ``W += stdp_lr * mean_n reward_n * eligibility_n`` on the
        incoming synapses of ``target[n]`` (the assembly credited or blamed; -1 = every
        assembly), clipped to ``±weight_bound``. With ``reward_modulation: false`` every
        reward counts as +1 (plain STDP). Returns the change applied. Pass the *recalled*
        assembly as target (see :meth:`learn`): blaming the right one for a wrong recall
        weakens what should have won (on the test memory 0.60 -> 0.48 recall, vs 0.76)."""
        if recall.raster is None:
            raise ConfigError(
                "reinforce needs the recall's spike raster: run with record=True "
                "(or snn.record_raster: true)"
            )
        n, size = recall.rates.shape
        targets = torch.as_tensor(target, dtype=torch.int64).reshape(-1)
        rewards = torch.as_tensor(reward, dtype=torch.float32).reshape(-1)
        if len(targets) != n or len(rewards) != n or size != self.size:
            raise DataError(
                f"reinforce needs one target and one reward per recalled input ({n}) on "
                f"{self.size} assemblies; got {len(targets)} targets, {len(rewards)} rewards"
            )
        if len(targets) and int(targets.max()) >= size:
            raise DataError(f"a target assembly is past the memory's {size} assemblies")
        if not self.cfg.reward_modulation:
            rewards = torch.ones_like(rewards)
        gate = torch.ones(n, size)
        chosen = targets >= 0
        gate[chosen] = torch.nn.functional.one_hot(targets[chosen], size).to(torch.float32)
        trace = stdp_eligibility(
            recall.raster, self.cfg.trace_decay, self.cfg.stdp_depression, gate * rewards[:, None]
        )
        before = self.weights.clone()
        bound = self.cfg.weight_bound
        self.weights = (self.weights + self.cfg.stdp_lr / n * trace).clamp(-bound, bound)
        return self.weights - before

    def learn(self, similarities: Any, proto_labels: Any, labels: Any) -> Recall:
        """One rewarded recall per input, the way :meth:`reinforce` is meant to be used:
        the winner is the assembly that fired most (ties to the more similar prototype);
        reward +1 when its prototype's label is the input's, -1 when not; the update goes
        to the winner's incoming synapses (credit or blame where the answer came from).
        Returns the recall."""
        sims = self._check(similarities)
        recall = self.run(sims, record=True)
        winner = (recall.rates + 1e-3 * sims).argmax(dim=1)
        own = torch.as_tensor(proto_labels, dtype=torch.int64)[winner]
        right = own == torch.as_tensor(labels, dtype=torch.int64)
        self.reinforce(recall, winner, right.to(torch.float32) * 2.0 - 1.0)
        return recall

    def fit_time_constants(
        self, similarities: Any, target: Any, *, epochs: int = 30, lr: float = 0.05
    ) -> float:
        """PLIF: learn each assembly's decay by surrogate gradients so that the ``target``
        assembly fires most (cross-entropy on spike counts). Returns the last loss."""
        if not isinstance(self._neuron, _Leaky) or self.cfg.neuron_type != "plif":
            raise ConfigError("fit_time_constants needs snn.neuron_type: plif")
        sims = self._check(similarities)
        targets = torch.as_tensor(target, dtype=torch.int64)
        beta = self._neuron.neuron.beta
        optimizer = torch.optim.Adam([beta], lr=lr)
        loss = torch.tensor(0.0)
        for _ in range(epochs):
            optimizer.zero_grad()
            raster, _ = self.simulate(sims)
            loss = torch.nn.functional.cross_entropy(raster.sum(dim=1), targets)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                beta.clamp_(0.01, 0.999)
        return float(loss.detach())

    # ---- shape and state ----
    @property
    def beta(self) -> torch.Tensor:
        """Each assembly's membrane decay (PLIF's learned values; else the configured one)."""
        if isinstance(self._neuron, _Leaky) and self.cfg.neuron_type == "plif":
            return self._neuron.beta
        return torch.full((self.size,), self.cfg.beta)

    def remap(self, rows: Any) -> None:
        """Follow the prototypes after they changed: new assembly ``i`` takes old assembly
        ``rows[i]``'s synapses (-1: a fresh assembly), as PrototypeMemory.rows_in gives."""
        rows = torch.as_tensor(rows, dtype=torch.int64)
        if len(rows) and int(rows.max()) >= self.size:
            raise DataError(f"remap names assembly {int(rows.max())}; there are {self.size}")
        old_w, old_beta, size = self.weights, self.beta, len(rows)
        known = rows >= 0
        weights = torch.eye(size) * self.cfg.self_excitation
        idx = torch.nonzero(known).flatten()
        weights[idx[:, None], idx[None, :]] = old_w[rows[idx][:, None], rows[idx][None, :]]
        beta = torch.full((size,), self.cfg.beta)
        beta[idx] = old_beta[rows[idx]]
        self.size, self.weights = size, weights
        self._neuron = self._make_neuron(size, beta)

    def resize(self, capacity: int) -> None:
        """Keep the first ``capacity`` assemblies (growing adds fresh ones at the end)."""
        keep = min(capacity, self.size)
        self.remap(torch.cat([torch.arange(keep), torch.full((capacity - keep,), -1)]))

    @property
    def nbytes(self) -> int:
        """Bytes of what is persisted (the non-zero synapses, PLIF's decays)."""
        return sum(int(t.numel() * t.element_size()) for t in self.state_dict().values())

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The non-zero recurrent synapses (post, pre indices and weights: STDP only
        touches pairs of assemblies that fired together, so most of [P, P] stays 0), the
        size, and PLIF's learned decays."""
        index = torch.nonzero(self.weights).T.to(torch.int32).contiguous()
        state = {
            "weight_index": index,
            "weight_value": self.weights[index[0].long(), index[1].long()].clone(),
            "size": torch.tensor([self.size], dtype=torch.int64),
        }
        if self.cfg.neuron_type == "plif":
            state["beta"] = self.beta.to(torch.float32)
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict`'s tensors (a dense ``weights`` [P, P] is read too)."""
        shapes = {k: tuple(v.shape) for k, v in state.items()}
        try:
            if "weights" in state:
                weights = state["weights"].to(torch.float32).clone()
                size = len(weights)
            else:
                size = int(state["size"][0])
                index = state["weight_index"].long()
                weights = torch.zeros(size, size)
                weights[index[0], index[1]] = state["weight_value"].to(torch.float32)
        except (KeyError, IndexError, RuntimeError) as e:
            raise ArtifactError(f"an attractor memory's state is not readable: {shapes}") from e
        beta = state.get("beta")
        if weights.shape != (size, size) or (beta is not None and beta.shape != (size,)):
            raise ArtifactError(f"an attractor memory's state has inconsistent shapes: {shapes}")
        self.size, self.weights = size, weights
        self._neuron = self._make_neuron(size, None if beta is None else beta.to(torch.float32))

    def meta(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "size": self.size,
            "config": self.cfg.model_dump(mode="json"),
        }

    @classmethod
    def from_state(
        cls, state: dict[str, torch.Tensor], meta: dict[str, Any], cfg: SNNConfig | None = None
    ) -> AttractorMemory:
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise ArtifactError(
                f"attractor memory schema {meta.get('schema_version')!r} is not "
                f"{SCHEMA_VERSION}: retrain, or load it with the neuroplast that wrote it"
            )
        memory = cls(cfg or SNNConfig.model_validate(meta["config"]), 0)
        memory.load_state_dict(state)
        return memory
