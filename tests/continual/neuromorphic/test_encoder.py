"""The concept encoder: the registry of backbones (MiniLM through the embedding cache, a
local Hugging Face folder, EfficientNet-Lite0 and a registered model's pooled features),
InfoNCE by hand, a projection head that separates classes it was fitted on, and state."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroplast.continual.neuromorphic.config import ConceptEncoderConfig
from neuroplast.continual.neuromorphic.encoder import (
    Backbone,
    ConceptEncoder,
    info_nce,
    list_encoders,
    register_encoder,
)
from neuroplast.data import ImageData
from neuroplast.errors import ArtifactError, ConfigError, DataError
from neuroplast.registry import Registry
from tests.conftest import load_debian_data

TEXTS = [
    "a dog barks at the mailman",
    "the stock market fell sharply today",
    "a puppy chases a ball in the park",
    "shares dropped on wall street",
]


def _cfg(**kw: Any) -> ConceptEncoderConfig:
    return ConceptEncoderConfig.model_validate(kw)


def test_info_nce_by_hand() -> None:
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    # anchors 0 and 1: positive logit 1 against {1, 0}; anchor 2 has no positive
    loss = info_nce(z, torch.tensor([0, 0, 1]), temperature=1.0)
    assert float(loss) == pytest.approx(math.log(1 + math.e) - 1)
    half = info_nce(z, torch.tensor([0, 0, 1]), temperature=0.5)
    assert float(half) == pytest.approx(math.log(1 + math.exp(2)) - 2)
    with pytest.raises(DataError, match="two examples"):
        info_nce(z, torch.tensor([0, 1, 2]), 1.0)


@pytest.mark.slow  # loading MiniLM: free when tests/encoders ran first in the process
def test_minilm_goes_through_the_registry_cache(tmp_path) -> None:
    encoder = ConceptEncoder(_cfg(encoder_type="minilm"), registry=Registry(tmp_path / "home"))
    first = encoder.encode(TEXTS)
    again = encoder.encode(TEXTS)
    call = encoder.backbone._service.last_call  # type: ignore[attr-defined]
    assert call.cached == 4 and call.computed == 0 and torch.equal(first, again)
    torch.testing.assert_close(first.norm(dim=1), torch.ones(4))
    sims = first @ first.T
    assert sims[0, 2] > sims[0, 1] and sims[1, 3] > sims[1, 2]  # topic beats topic


def test_a_local_hf_folder_equals_the_sentence_encoders_pooling(tmp_path) -> None:
    """A tiny BERT saved with save_pretrained beside MiniLM's tokenizer files: ``hf:<dir>``
    gives what neuroplast.encoders' own tokenizer + BertModel + mean pooling give."""
    import shutil

    import transformers

    from neuroplast.encoders import SentenceEncoder, load_bert, load_tokenizer
    from neuroplast.models.minilm_weights import minilm_path

    folder = tmp_path / "tiny-bert"
    config = transformers.BertConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    torch.manual_seed(0)
    transformers.BertModel(config).save_pretrained(folder)
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(minilm_path() / name, folder / name)
    reference = SentenceEncoder(
        name="tiny",
        encoder_id="tiny",
        dim=16,
        tokenizer=load_tokenizer(folder, 128),
        model=load_bert(folder),
    ).encode(TEXTS)
    encoder = ConceptEncoder(_cfg(encoder_type=f"hf:{folder}"), registry=Registry(tmp_path))
    got = encoder.encode(TEXTS)
    torch.testing.assert_close(got, torch.from_numpy(reference), atol=1e-5, rtol=0)
    assert encoder.modality == "text" and encoder.dim == 16
    assert torch.equal(encoder.encode(TEXTS), got)  # the second time from the cache


def test_a_local_hf_image_model_gives_its_pooled_output(tmp_path) -> None:
    import transformers

    folder = tmp_path / "tiny-vit"
    config = transformers.ViTConfig(
        image_size=28,
        patch_size=7,
        num_channels=1,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    torch.manual_seed(0)
    model = transformers.ViTModel(config).eval()
    model.save_pretrained(folder)
    images, _ = _fashion(2, [0, 1])
    encoder = ConceptEncoder(_cfg(encoder_type=f"hf:{folder}", use_cache=False))
    got = encoder.encode(images)
    with torch.no_grad():
        pooled = model(pixel_values=images).pooler_output
    assert encoder.modality == "image" and got.shape == (4, 16)
    torch.testing.assert_close(got, F.normalize(pooled, dim=1), atol=1e-5, rtol=0)


def _fashion(n_per_class: int, classes: list[int]) -> tuple[Tensor, Tensor]:
    data = load_debian_data("fashion_mnist", limit=60 * 10, seed=0)
    assert isinstance(data, ImageData)
    rows = np.concatenate([np.flatnonzero(data.labels == c)[:n_per_class] for c in classes])
    images = torch.from_numpy(data.images[rows]).float() / 127.5 - 1.0
    return images, torch.from_numpy(data.labels[rows]).long()


def test_efficientnet_features_are_its_pooled_stage_and_cached(tmp_path) -> None:
    from neuroplast.models.efficientnet import STAGES

    images, _ = _fashion(2, [0, 1, 7])
    encoder = ConceptEncoder(
        _cfg(encoder_type="efficientnet-lite0", image_size=64), registry=Registry(tmp_path)
    )
    got = encoder.encode(images)
    model = encoder.backbone.module
    assert model is not None and got.shape == (6, 1280)
    with torch.no_grad():
        direct = F.normalize(model.run_stages(images, 0, STAGES), dim=1)  # type: ignore[operator]
    torch.testing.assert_close(got, direct, atol=1e-5, rtol=0)
    assert torch.equal(encoder.encode(images), got)  # the second time from the cache


def test_a_projection_head_fitted_with_infonce_separates_held_out_classes() -> None:
    images, labels = _fashion(40, [0, 2, 4, 6])  # shirt-like classes: close in pixels
    x = images.flatten(1)
    x = x - x.mean(dim=0)
    train, held = torch.arange(len(x)) % 2 == 0, torch.arange(len(x)) % 2 == 1
    encoder = ConceptEncoder(_cfg(encoder_type="minilm", projection_dim=32, projection_lr=3e-3))

    def gap() -> float:
        z = encoder.project(x[held])
        same = labels[held][:, None] == labels[held][None, :]
        sims = z @ z.T
        return float(sims[same].mean() - sims[~same].mean())

    encoder._make_head(x.shape[1], 0)
    before = gap()
    losses = encoder.fit_projection(x[train], labels[train], epochs=30, seed=0)
    assert losses[-1] < 0.8 * losses[0] and encoder.projection_fitted
    assert gap() > before + 0.1, (before, gap())


class _Letters(Backbone):
    """A tiny trainable text backbone for the registry tests: letter counts -> linear."""

    name, modality = "unit-letters", "text"

    def __init__(self, cfg: ConceptEncoderConfig, context: object) -> None:
        self.module = nn.Linear(26, 8)
        torch.nn.init.eye_(self.module.weight)

    @property
    def dim(self) -> int:
        return 8

    def identity(self) -> str:
        return "letters/1"

    def features(self, inputs: Any) -> Tensor:
        counts = torch.zeros(len(inputs), 26)
        for i, text in enumerate(inputs):
            for ch in text.lower():
                if "a" <= ch <= "z":
                    counts[i, ord(ch) - 97] += 1
        return self.module(counts)


register_encoder("unit-letters")(_Letters)


def test_a_registered_backbone_trains_unfrozen_and_its_state_round_trips() -> None:
    assert "unit-letters" in list_encoders() and "minilm" in list_encoders()
    cfg = _cfg(encoder_type="unit-letters", freeze_backbone=False, projection_dim=4)
    encoder = ConceptEncoder(cfg)
    texts, labels = ["aaab", "aaba", "ccdc", "cdcc", "abaa", "dccc"], [0, 0, 1, 1, 0, 1]
    losses = encoder.fit(texts, labels, epochs=40, seed=0)
    assert losses[-1] < losses[0] and encoder.backbone_trained
    tensors, meta = encoder.state_dict()
    assert {"head.weight", "backbone.weight"} <= set(tensors)
    back = ConceptEncoder(cfg)
    back.load_state_dict(tensors, meta)
    torch.testing.assert_close(back.encode(texts), encoder.encode(texts))
    with pytest.raises(ArtifactError, match="'unit-letters'"):
        ConceptEncoder(_cfg(encoder_type="minilm")).load_state_dict(tensors, meta)


def test_a_saved_head_refuses_other_backbone_weights() -> None:
    cfg = _cfg(encoder_type="unit-letters", projection_dim=4)
    encoder = ConceptEncoder(cfg)
    encoder.fit_projection(torch.randn(6, 8), [0, 0, 1, 1, 2, 2], epochs=2)
    encoder.encode(["abc"])
    tensors, meta = encoder.state_dict()
    back = ConceptEncoder(cfg)
    back.load_state_dict(tensors, meta | {"identity": "letters/0"})
    with pytest.raises(ArtifactError, match="letters/0"):
        back.encode(["abc"])


def test_a_registered_cnns_pooled_features_separate_classes(serving_template) -> None:
    """fm-serve:1 of the serving fixtures: an image CNN trained one epoch on Fashion-MNIST."""
    registry = Registry(serving_template, read_only=True)
    encoder = ConceptEncoder(
        _cfg(encoder_type="cnn", model_ref="fm-serve:1", use_cache=False), registry=registry
    )
    images, labels = _fashion(40, [1, 5, 8, 9])  # trouser, sandal, bag, ankle boot
    z = encoder.encode(images)
    assert z.shape == (160, 16) and str(encoder.identity).startswith("cnn/fm-serve:1/")
    model: Any = encoder.backbone.module
    with torch.no_grad():  # the image CNN's global average pool, read directly
        pooled = model.pool(model.features(images)).flatten(1)
    torch.testing.assert_close(z, F.normalize(pooled, dim=1), atol=1e-5, rtol=0)
    even = torch.arange(160) % 2 == 0
    centroids = torch.stack([z[even & (labels == c)].mean(0) for c in (1, 5, 8, 9)])
    guess = torch.tensor([1, 5, 8, 9])[(z[~even] @ centroids.T).argmax(1)]
    accuracy = float((guess == labels[~even]).float().mean())
    assert accuracy > 0.5, accuracy  # chance is 0.25 (one epoch of training: ~0.66)


@pytest.mark.parametrize(
    ("cfg", "inputs", "error", "match"),
    [
        ({"encoder_type": "nope"}, TEXTS, ConfigError, "unit-letters"),
        ({"encoder_type": "hf:/nonexistent/model"}, TEXTS, ConfigError, "config.json"),
        ({"encoder_type": "minilm", "freeze_backbone": False}, TEXTS, ConfigError, "hf:"),
        ({"encoder_type": "unit-letters"}, torch.zeros(2, 1, 4, 4), DataError, "no inputs|text"),
        ({"encoder_type": "efficientnet-lite0"}, TEXTS, DataError, "image encoder"),
        ({"encoder_type": "unit-letters"}, [], DataError, "no inputs"),
    ],
)
def test_bad_encoders_and_inputs_are_refused(
    cfg: dict[str, Any], inputs: Any, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        ConceptEncoder(_cfg(**cfg, use_cache=False)).encode(inputs)
