"""The Vision Transformer: shapes, patch locality, permutation equivariance, rollout."""

from __future__ import annotations

import pytest
import torch

from neuroplast.errors import ConfigError
from neuroplast.explain.attention import attention_rollout
from neuroplast.explain.methods.rollout import patch_rollout
from neuroplast.models import create_model


def _vit(**overrides: object) -> torch.nn.Module:
    torch.manual_seed(0)
    config = {
        "num_classes": 5,
        "image_size": 8,
        "patch_size": 2,
        "width": 16,
        "depth": 2,
        "num_heads": 2,
        "dropout": 0.0,
        **overrides,
    }
    return create_model("image_vit", config).eval()


def test_shapes_with_a_class_token_and_with_mean_pooling() -> None:
    x = torch.rand(3, 1, 8, 8)
    logits, maps = _vit()(x, return_attention=True)
    assert logits.shape == (3, 5) and len(maps) == 2
    assert maps[0].shape == (3, 2, 17, 17)  # 16 patches + the class token
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(3, 2, 17))
    _, mean_maps = _vit(pooling="mean")(x, return_attention=True)
    assert mean_maps[0].shape == (3, 2, 16, 16)
    torch.testing.assert_close(_vit()(x), logits)  # the attention path gives the same logits


def test_a_patch_token_sees_only_its_own_pixels() -> None:
    model = _vit()
    x = torch.rand(1, 1, 8, 8)
    changed = x.clone()
    changed[0, 0, 2:4, 4:6] += 1.0  # patch row 1, column 2 -> patch 1 * 4 + 2 = 6
    diff = (model.tokens(changed) - model.tokens(x)).abs().sum(-1)[0]
    assert diff[7] > 0  # token 7 = class token + patch 6
    assert torch.count_nonzero(diff) == 1


def test_permuting_patches_and_positions_together_leaves_mean_pooled_logits_unchanged() -> None:
    model = _vit(pooling="mean")
    x = torch.rand(2, 1, 8, 8)
    order = torch.randperm(16, generator=torch.Generator().manual_seed(3))
    patches = x.reshape(2, 1, 4, 2, 4, 2).permute(0, 2, 4, 1, 3, 5).reshape(2, 16, 1, 2, 2)
    shuffled = patches[:, order].reshape(2, 4, 4, 1, 2, 2).permute(0, 3, 1, 4, 2, 5)
    shuffled = shuffled.reshape(2, 1, 8, 8)
    before = model(x)
    with torch.no_grad():
        model.position.copy_(model.position[:, order])
    torch.testing.assert_close(model(shuffled), before, atol=1e-5, rtol=1e-5)


def test_rollout_rows_sum_to_one_and_match_hand_computation() -> None:
    a = torch.tensor([[[0.5, 0.5], [0.2, 0.8]]]).unsqueeze(1)  # 1 layer, 1 head, 2 tokens
    rollout = attention_rollout([a], torch.ones(1, 2, dtype=torch.bool))
    torch.testing.assert_close(rollout[0], torch.tensor([[0.75, 0.25], [0.1, 0.9]]))
    model = _vit()
    maps = patch_rollout(model, torch.rand(4, 1, 8, 8))
    assert maps.shape == (4, 4, 4)
    torch.testing.assert_close(maps.sum(dim=(1, 2)), torch.ones(4))
    _, layers = model(torch.rand(4, 1, 8, 8), return_attention=True)
    full = attention_rollout(layers, torch.ones(4, 17, dtype=torch.bool))
    torch.testing.assert_close(full.sum(-1), torch.ones(4, 17))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"patch_size": 3}, r"patch_size \(3\) must divide image_size \(8\)"),
        ({"width": 18, "num_heads": 4}, r"width \(18\) must be divisible by num_heads \(4\)"),
    ],
)
def test_shapes_that_do_not_fit_are_config_errors(overrides: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _vit(**overrides)


def test_a_wrong_image_size_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="do not fit this model"):
        _vit()(torch.rand(1, 1, 10, 10))
