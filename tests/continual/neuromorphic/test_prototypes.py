"""The prototype manager: EMA arithmetic, creation, merge / split / eviction, persistence and
the same neighbours from faiss and from brute force."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from neuroplast.continual.neuromorphic.config import PrototypeManagerConfig
from neuroplast.continual.neuromorphic.prototypes import PrototypeMemory
from neuroplast.errors import ArtifactError, ConfigError, DataError


def _cfg(**kw: object) -> PrototypeManagerConfig:
    base: dict[str, object] = {"indexing_backend": "brute", "maintenance_interval": 10_000}
    return PrototypeManagerConfig.model_validate(base | kw)


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def test_ema_update_moves_the_prototype_by_one_minus_momentum() -> None:
    mem = PrototypeMemory(_cfg(momentum=0.8, similarity_threshold=0.5), dim=3)
    x = _unit([1, 1, 0])
    ids = mem.observe(np.stack([_unit([1, 0, 0]), x]), [4, 4], refs=[10, 11])
    assert ids == [0, 0] and len(mem) == 1
    moved = 0.8 * np.array([1, 0, 0]) + 0.2 * x
    np.testing.assert_allclose(mem.vectors[0].numpy(), moved / np.linalg.norm(moved), atol=1e-6)
    assert mem.counts.tolist() == [2] and mem.labels.tolist() == [4]
    residual = x - np.array([1, 0, 0])
    tensors = mem.to_tensors()
    assert float(tensors["variance"][0]) == pytest.approx(0.2 * residual @ residual, rel=1e-5)
    np.testing.assert_allclose(  # kept in float16
        tensors["direction"][0].float().numpy(), residual / np.linalg.norm(residual), atol=1e-3
    )
    assert mem.examples(0) == [10, 11]  # the first example is the prototype itself


def test_mean_warmup_keeps_the_running_mean_until_the_ema_window_fills() -> None:
    xs = np.stack([_unit([1, 0, 0]), _unit([0, 1, 0]), _unit([0, 0, 1]), _unit([1, 1, 1])])
    mem = PrototypeMemory(_cfg(similarity_threshold=-1.0, momentum=0.7, mean_warmup=True), dim=3)
    mem.observe(xs[:3], [0, 0, 0])  # weights 1/2 then 1/3: the (renormalised) running mean
    p = _unit([1, 1, 0])
    p = _unit(2 / 3 * p + 1 / 3 * xs[2])
    np.testing.assert_allclose(mem.vectors[0].numpy(), p, atol=1e-6)
    mem.observe(xs[3:], [0])  # a 4th member: 1 - 1/4 > 0.7, the EMA's 0.3 from here on
    np.testing.assert_allclose(mem.vectors[0].numpy(), _unit(0.7 * p + 0.3 * xs[3]), atol=1e-6)


def test_a_new_prototype_below_the_threshold_or_for_another_label() -> None:
    mem = PrototypeMemory(_cfg(similarity_threshold=0.9), dim=2)
    # cos(0, 30 degrees) = 0.866 < 0.9: new prototype; cos(0, 20 degrees) = 0.940: update
    at = [[math.cos(math.radians(d)), math.sin(math.radians(d))] for d in (0, 30, 5)]
    assert mem.observe(np.array(at), [0, 0, 0]) == [0, 1, 0]
    assert mem.observe(np.array(at[:1]), [1]) == [2]  # identical vector, other label
    assert mem.labels.tolist() == [0, 0, 1] and mem.counts.tolist() == [2, 1, 1]


def test_merge_joins_same_label_prototypes_above_the_merge_threshold_only() -> None:
    mem = PrototypeMemory(_cfg(similarity_threshold=0.999, merge_threshold=0.97), dim=3)
    a, b = _unit([1, 0.1, 0]), _unit([1, -0.1, 0])  # cos = 0.980
    far = _unit([0, 0, 1])
    mem.observe(np.stack([a, a, a, b, a, far]), [0, 0, 0, 0, 1, 0])
    assert len(mem) == 4
    report = mem.maintain()
    assert report.merged == 1 and len(mem) == 3
    row = int(mem.rows_of([0])[0])
    weighted = 3 * a + 1 * b
    np.testing.assert_allclose(
        mem.vectors[row].numpy(), weighted / np.linalg.norm(weighted), atol=1e-6
    )
    assert mem.counts[row] == 4  # label 1's copy of a and the far prototype stay apart
    assert sorted(mem.labels.tolist()) == [0, 0, 1]


def test_split_divides_a_spread_prototype_along_its_main_direction() -> None:
    cfg = _cfg(similarity_threshold=0.0, momentum=0.9, split_variance=0.1, min_split_count=8)
    mem = PrototypeMemory(cfg, dim=3)
    up, down = _unit([1, 0.6, 0.05]), _unit([1, -0.6, 0.05])
    mem.observe(np.stack([up, down] * 10), [0] * 20)
    var = float(mem.to_tensors()["variance"][0])
    assert len(mem) == 1 and var > 0.1
    report = mem.maintain()
    assert report.split == 1 and len(mem) == 2
    children = mem.vectors.numpy()
    assert {int(np.argmax(children @ up)), int(np.argmax(children @ down))} == {0, 1}
    assert mem.counts.sum() == 20
    after = mem.to_tensors()["variance"].numpy()
    np.testing.assert_allclose(after, [(1 - 2 / math.pi) * var] * 2, rtol=1e-5)


def test_no_split_below_the_bound_or_with_too_few_members() -> None:
    tight = PrototypeMemory(_cfg(similarity_threshold=0.0, split_variance=3.0), dim=3)
    tight.observe(np.stack([_unit([1, 0.6, 0]), _unit([1, -0.6, 0])] * 10), [0] * 20)
    few = PrototypeMemory(_cfg(similarity_threshold=0.0, split_variance=0.01), dim=3)
    few.observe(np.stack([_unit([1, 0.6, 0]), _unit([1, -0.6, 0])] * 2), [0] * 4)
    assert tight.maintain().split == 0 and few.maintain().split == 0


def test_the_cap_evicts_the_least_used_and_keeps_a_labels_last() -> None:
    mem = PrototypeMemory(_cfg(similarity_threshold=0.99, max_prototypes=3), dim=3)
    e = np.eye(3, dtype=np.float32)
    mem.observe(e, [0, 0, 1])  # ids 0, 1 (label 0) and 2 (label 1)
    mem.record_use([0, 0, 2])
    mem.observe(_unit([1, 1, 1])[None], [2])  # a new label at the cap
    assert sorted(mem.ids.tolist()) == [0, 2, 3]  # id 1 was least used
    # now every label has one prototype: a new label cannot find room
    with pytest.raises(ConfigError, match="max_prototypes"):
        mem.observe(_unit([1, -1, 0])[None], [3])
    # a known label at the cap updates its nearest prototype instead
    assert mem.observe(_unit([1, 0, 0.5])[None], [0]) == [0]


def test_the_per_class_budget_evicts_from_the_fullest_label() -> None:
    e = np.eye(6, dtype=np.float32)
    for budget, kept in ((True, {0: 2, 1: 3}), (False, {0: 1, 1: 4})):
        cfg = _cfg(similarity_threshold=0.999, max_prototypes=5, per_class_budget=budget)
        mem = PrototypeMemory(cfg, dim=6)
        mem.observe(e[:5], [0, 0, 1, 1, 1])  # ids 0, 1 of the old label; the cap is reached
        mem.record_use([2, 2, 3, 3, 4, 4])  # the new label's prototypes are used more
        mem.observe(e[5:], [1])  # one more of label 1: someone is evicted
        labels = mem.labels.tolist()
        assert {c: labels.count(c) for c in (0, 1)} == kept


def test_maintenance_runs_every_interval() -> None:
    cfg = _cfg(similarity_threshold=0.999, merge_threshold=0.99, maintenance_interval=4)
    mem = PrototypeMemory(cfg, dim=2)
    near = [math.cos(math.radians(5)), math.sin(math.radians(5))]  # cos 0.9962: new, mergeable
    mem.observe(np.array([[1.0, 0.0], near, [1.0, 0.0]]), [0, 0, 0])
    assert len(mem) == 2 and mem.updates == 3
    mem.observe(np.array([[0.0, 1.0]]), [1])  # the 4th update runs maintenance: a merge
    assert len(mem) == 2 and sorted(mem.labels.tolist()) == [0, 1]


def _filled(backend: str, seed: int = 0) -> PrototypeMemory:
    rng = np.random.default_rng(seed)
    cfg = _cfg(
        indexing_backend=backend,
        similarity_threshold=0.3,
        max_prototypes=150,
        maintenance_interval=97,
        merge_threshold=0.6,
    )
    mem = PrototypeMemory(cfg, dim=16)
    centres = rng.normal(size=(40, 16))
    for start in range(0, 600, 50):
        which = rng.integers(0, 40, size=50)
        x = centres[which] + 0.6 * rng.normal(size=(50, 16))
        mem.observe(x, which % 7, refs=np.arange(start, start + 50))
        mem.search(x[:3], 2)  # the faiss index syncs between updates
    return mem


def test_faiss_and_brute_force_return_the_same_neighbours() -> None:
    faiss_mem, brute_mem = _filled("faiss"), _filled("brute")
    assert faiss_mem.ids.tolist() == brute_mem.ids.tolist()  # removals happened on the way
    assert faiss_mem._next_id > len(faiss_mem)
    queries = np.random.default_rng(1).normal(size=(64, 16))
    fs, fi = faiss_mem.search(queries, 5)
    bs, bi = brute_mem.search(queries, 5)
    assert torch.equal(fi, bi)
    torch.testing.assert_close(fs, bs, atol=1e-5, rtol=0)
    fs, fi = faiss_mem.search(queries[:2], len(faiss_mem) + 3)
    bs, bi = brute_mem.search(queries[:2], len(brute_mem) + 3)
    assert torch.equal(fi, bi) and (fi[:, -3:] == -1).all() and torch.isinf(fs[:, -3:]).all()


def test_persistence_round_trip_through_safetensors_and_json(tmp_path) -> None:
    mem = _filled("faiss")
    save_file(mem.to_tensors(), tmp_path / "p.safetensors")
    (tmp_path / "p.json").write_text(json.dumps(mem.meta()))
    back = PrototypeMemory.from_tensors(
        load_file(tmp_path / "p.safetensors"), json.loads((tmp_path / "p.json").read_text())
    )
    for name, tensor in mem.to_tensors().items():
        assert torch.equal(tensor, back.to_tensors()[name]), name
    queries = np.random.default_rng(2).normal(size=(8, 16))
    assert torch.equal(mem.search(queries, 3)[1], back.search(queries, 3)[1])
    first = mem.ids.tolist()[0]
    assert mem.examples(first) == back.examples(first)
    x = np.random.default_rng(3).normal(size=(30, 16))
    assert mem.observe(x, [1] * 30) == back.observe(x, [1] * 30)
    fewer = PrototypeMemory.from_tensors(
        mem.to_tensors(), mem.meta(), _cfg(indexing_backend="brute", examples_per_prototype=1)
    )
    assert len(mem.examples(first)) > 1 and fewer.examples(first) == mem.examples(first)[:1]
    with pytest.raises(ArtifactError, match="vectors"):
        PrototypeMemory.from_tensors(mem.to_tensors() | {"vectors": torch.zeros(2, 3)}, mem.meta())
    with pytest.raises(ArtifactError, match="schema"):
        PrototypeMemory.from_tensors(mem.to_tensors(), mem.meta() | {"schema_version": 99})


@pytest.mark.parametrize(
    ("emb", "match"),
    [
        (np.ones((2, 5)), r"\[n, 4\]"),
        (np.array([[1.0, np.nan, 0, 0]]), "NaN"),
        (np.zeros((1, 4)), "all zeros"),
    ],
)
def test_bad_embeddings_are_refused(emb: np.ndarray, match: str) -> None:
    mem = PrototypeMemory(_cfg(), dim=4)
    with pytest.raises(DataError, match=match):
        mem.observe(emb, [0] * len(emb))
    with pytest.raises(DataError, match="integer labels"):
        mem.observe(np.ones((2, 4)), [0.5, 1.0])
    with pytest.raises(ConfigError, match="k >= 1"):
        mem.search(np.ones((1, 4)), 0)
