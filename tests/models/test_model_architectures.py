"""Every registered architecture: shapes, gradients, save/load, padding and attention."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from neuroplast.errors import ConfigError, DataError
from neuroplast.models import create_model, get_spec, list_models
from neuroplast.models.hybrid import HybridClassifier
from neuroplast.models.image_cnn import ImageCNNClassifier

from ._helpers import NUM_CLASSES, VOCAB_SIZE, example_batch, small_config

ATTENTION_MODELS = ["transformer", "lstm", "hybrid"]


def _logits(model: nn.Module, x: Tensor) -> Tensor:
    out: Tensor = model(x)
    return out


def test_forward_shape(model_name: str) -> None:
    model = create_model(model_name, small_config(model_name)).eval()
    with torch.no_grad():
        logits = _logits(model, example_batch(model_name, batch_size=5))
    assert logits.shape == (5, NUM_CLASSES)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


def test_backward_reaches_every_parameter(model_name: str) -> None:
    torch.manual_seed(0)
    model = create_model(model_name, small_config(model_name)).train()
    x = example_batch(model_name, batch_size=6)
    loss = F.cross_entropy(_logits(model, x), torch.arange(6) % NUM_CLASSES)
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, f"no gradient for {name}"
        assert torch.isfinite(param.grad).all(), f"non-finite gradient for {name}"
        assert param.grad.abs().sum() > 0, f"zero gradient for {name}"


def test_safetensors_round_trip(model_name: str, tmp_path: Path) -> None:
    config = small_config(model_name)
    torch.manual_seed(0)
    model = create_model(model_name, config).train()
    x = example_batch(model_name, batch_size=4)
    model(x)  # moves batch-norm running statistics away from their initial values
    model.eval()
    path = tmp_path / "model.safetensors"
    save_file(model.state_dict(), str(path))

    torch.manual_seed(1)
    fresh = create_model(model_name, config).eval()
    with torch.no_grad():
        expected = _logits(model, x)
        assert not torch.equal(_logits(fresh, x), expected)
        fresh.load_state_dict(load_file(str(path)))
        assert torch.equal(_logits(fresh, x), expected)


def test_model_keeps_its_typed_config(model_name: str) -> None:
    model = create_model(model_name, small_config(model_name))
    spec = get_spec(model_name)
    assert isinstance(model.config, spec.config_cls)
    assert type(model).modality == spec.modality  # type: ignore[attr-defined]


PADDING_CASES: list[tuple[str, dict[str, Any]]] = [(name, {}) for name in list_models("text")] + [
    ("transformer", {"pooling": "cls"})
]


@pytest.mark.parametrize(("name", "overrides"), PADDING_CASES)
def test_padding_does_not_change_outputs(name: str, overrides: dict[str, Any]) -> None:
    torch.manual_seed(0)
    model = create_model(name, small_config(name, **overrides)).eval()
    short = torch.tensor([[5, 17, 42, 8, 99]])
    long = torch.randint(1, VOCAB_SIZE, (1, 23))
    batch = torch.zeros(3, 23, dtype=torch.long)
    batch[0, :5] = short
    batch[1] = long
    batch[2, :5] = short
    batch[2, 5:9] = 7  # same prefix, different tokens after it: must change the output
    with torch.no_grad():
        alone = _logits(model, short)
        padded = _logits(model, batch)
        long_alone = _logits(model, long)
    torch.testing.assert_close(padded[0:1], alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(padded[1:2], long_alone, atol=1e-5, rtol=0)
    assert not torch.allclose(padded[2], padded[0], atol=1e-4)


def test_all_padding_row_gives_finite_outputs_and_gradients(text_model_name: str) -> None:
    torch.manual_seed(0)
    model = create_model(text_model_name, small_config(text_model_name)).train()
    x = torch.tensor([[0, 0, 0, 0, 0, 0], [3, 4, 5, 0, 0, 0]])
    logits = _logits(model, x)
    assert torch.isfinite(logits).all()
    F.cross_entropy(logits, torch.tensor([0, 1])).backward()
    for name, param in model.named_parameters():
        assert param.grad is None or torch.isfinite(param.grad).all(), name
    with torch.no_grad():
        assert torch.isfinite(_logits(model.eval(), torch.zeros(2, 9, dtype=torch.long))).all()


@pytest.mark.parametrize("length", [1, 2])
def test_sequences_shorter_than_the_widest_filter(text_model_name: str, length: int) -> None:
    model = create_model(text_model_name, small_config(text_model_name)).eval()
    with torch.no_grad():
        logits = _logits(model, torch.arange(1, length + 1).unsqueeze(0))
    assert logits.shape == (1, NUM_CLASSES)
    assert torch.isfinite(logits).all()


def test_text_models_reject_unbatched_ids(text_model_name: str) -> None:
    model = create_model(text_model_name, small_config(text_model_name))
    with pytest.raises(DataError, match=r"shape \[batch, seq_len\], got shape \(7,\)"):
        model(torch.arange(1, 8))


def test_transformer_attention_weights() -> None:
    model = create_model("transformer", small_config("transformer", num_layers=3)).eval()
    x = example_batch("transformer", batch_size=4)
    with torch.no_grad():
        logits, attentions = model(x, return_attention=True)
        plain = _logits(model, x)
    torch.testing.assert_close(logits, plain, atol=1e-5, rtol=0)
    assert len(attentions) == 3
    for weights in attentions:
        assert weights.shape == (4, 4, 12, 12)
        torch.testing.assert_close(weights.sum(-1), torch.ones(4, 4, 12))
        padded_keys = (x == 0)[:, None, None, :].expand_as(weights)
        assert (weights[padded_keys] == 0).all()


@pytest.mark.parametrize("name", ["lstm", "hybrid"])
def test_recurrent_attention_weights(name: str) -> None:
    model = create_model(name, small_config(name)).eval()
    x = example_batch(name, batch_size=4)
    with torch.no_grad():
        logits, attentions = model(x, return_attention=True)
    assert logits.shape == (4, NUM_CLASSES)
    assert len(attentions) == 1
    (weights,) = attentions
    assert weights.shape == (4, 12)
    torch.testing.assert_close(weights.sum(-1), torch.ones(4))
    assert (weights[x == 0] == 0).all()


def test_transformer_rejects_inputs_longer_than_max_seq_length() -> None:
    model = create_model("transformer", small_config("transformer", max_seq_length=16))
    with pytest.raises(ConfigError, match=r"17 tokens .* max_seq_length=16; truncate"):
        model(torch.ones(1, 17, dtype=torch.long))


def test_image_cnn_names_its_gradcam_layer() -> None:
    model = create_model("image_cnn", small_config("image_cnn")).eval()
    assert isinstance(model, ImageCNNClassifier)
    assert model.gradcam_layer == "features.2"
    layer = model.get_submodule(model.gradcam_layer)
    seen: list[Tensor] = []
    layer.register_forward_hook(lambda _module, _inputs, output: seen.append(output))
    with torch.no_grad():
        model(example_batch("image_cnn", batch_size=2))
    assert seen[0].shape == (2, 128, 7, 7)


def test_image_models_reject_images_that_do_not_fit() -> None:
    mlp = create_model("image_mlp", small_config("image_mlp"))
    with pytest.raises(ConfigError, match=r"expects \[batch, 1, 28, 28\]"):
        mlp(torch.zeros(2, 1, 32, 32))
    cnn = create_model("image_cnn", small_config("image_cnn", in_channels=3))
    assert _logits(cnn.eval(), torch.zeros(2, 3, 32, 32)).shape == (2, NUM_CLASSES)
    with pytest.raises(ConfigError, match=r"expects \[batch, 3, H, W\]"):
        cnn(torch.zeros(2, 1, 28, 28))
    with pytest.raises(DataError, match=r"add a batch dimension"):
        cnn(torch.zeros(3, 28, 28))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("filter_sizes", [(3, 4, 5), (2, 6), (1,)])
def test_hybrid_convolutions_match_same_padding(filter_sizes: tuple[int, ...]) -> None:
    model = create_model("hybrid", small_config("hybrid", filter_sizes=filter_sizes))
    assert isinstance(model, HybridClassifier)
    x = torch.randn(2, model.config.embedding_dim, 9)
    expected = torch.cat(
        [torch.relu(F.conv1d(x, c.weight, c.bias, padding="same")) for c in model.convs], dim=1
    )
    torch.testing.assert_close(model.ngram_features(x), expected.transpose(1, 2))
