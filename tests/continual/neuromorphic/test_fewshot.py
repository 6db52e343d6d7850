"""A class learnt from a few examples must not take the old classes' inputs: the whitened
prototypes sit at their class mean's length (``whitened_length: class_mean``), not at the
unit length the memory keeps (docs/neuromorphic.md, few-shot)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from neuroplast.continual.neuromorphic.learner import NeuromorphicLearner
from neuroplast.continual.neuromorphic.run_config import NeuroRunConfig
from neuroplast.continual.neuromorphic.stream_run import PROTOTYPE_DEFAULTS

DIM, OLD = 128, 4


def _concepts(gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Unit concepts sharing one strong direction (as frozen features do), class offsets
    and a wide spread: a mean of 5 such concepts is much longer than a mean of 400."""
    common = torch.nn.functional.normalize(torch.randn(DIM, generator=gen), dim=0)
    offsets = 0.35 * torch.randn(OLD + 1, DIM, generator=gen)
    return common, offsets


def _draw(common: Tensor, offsets: Tensor, label: int, n: int, gen: torch.Generator) -> Tensor:
    x = common + offsets[label] + 4.0 * torch.randn(n, DIM, generator=gen) / DIM**0.5
    return torch.nn.functional.normalize(x, dim=1)


def _after_five_shots(length: str) -> tuple[float, float, float]:
    """Old-class accuracy, share of old inputs answered as the new class, new-class
    accuracy, after 4 classes of 400 concepts and a fifth from 5."""
    gen = torch.Generator().manual_seed(0)
    common, offsets = _concepts(gen)
    cfg = NeuroRunConfig.model_validate({
        "stream": {"source": "split_mnist"},
        "concept_encoder": {"encoder_type": "efficientnet-lite0"},
        "prototype_manager": {**PROTOTYPE_DEFAULTS, "whitened_length": length},
        "training": {"calibration_fraction": 0.0},
    })  # fmt: skip
    names = [str(i) for i in range(OLD + 1)]
    learner = NeuromorphicLearner(cfg, class_names=names, seed=0, spiking=False)
    old = torch.cat([_draw(common, offsets, c, 400, gen) for c in range(OLD)])
    learner.fit_concepts(old, torch.arange(OLD).repeat_interleave(400))
    learner.fit_concepts(_draw(common, offsets, OLD, 5, gen), torch.full((5,), OLD))
    test_y = torch.arange(OLD).repeat_interleave(200)
    test = torch.cat([_draw(common, offsets, c, 200, gen) for c in range(OLD)])
    answers = learner.score_concepts(test).labels
    new = learner.score_concepts(_draw(common, offsets, OLD, 200, gen)).labels
    return (
        float((answers == test_y).float().mean()),
        float((answers == OLD).float().mean()),
        float((new == OLD).float().mean()),
    )


def test_a_five_shot_class_takes_few_old_inputs_at_its_mean_length() -> None:
    old_acc, taken, new_acc = _after_five_shots("class_mean")
    assert taken < 0.03 and old_acc > 0.95, (old_acc, taken)
    assert new_acc > 0.95, "the new class is still learnt"


def test_unit_length_prototypes_let_a_five_shot_class_take_old_inputs() -> None:
    """The ablation: the same data at unit length, as before the fix."""
    old_acc, taken, _ = _after_five_shots("unit")
    assert taken > 0.08 and old_acc < 0.92, (old_acc, taken)


def test_the_length_setting_is_validated() -> None:
    with pytest.raises(ValueError, match="whitened_length"):
        NeuroRunConfig.model_validate({
            "stream": {"source": "split_mnist"},
            "prototype_manager": {"whitened_length": "long"},
        })  # fmt: skip
