"""The ``minilm`` architecture on the real shipped all-MiniLM-L6-v2 weights and tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors import safe_open

from neuroplast.config import RunConfig, TrainConfig, parse_run_config, template_text
from neuroplast.data import load_builtin
from neuroplast.errors import ArtifactError, ConfigError
from neuroplast.inference.bundle import ModelMeta
from neuroplast.inference.registered import load_registered
from neuroplast.models import count_parameters, create_model
from neuroplast.models.minilm import MiniLMClassifier, minilm_vocabulary
from neuroplast.models.minilm_weights import load_tokenizer, minilm_path
from neuroplast.registry import Registry
from neuroplast.registry.transfer import export_version, import_bundle
from neuroplast.tokens import Vocabulary
from neuroplast.tokens.hf import hf_tokenizer_json
from neuroplast.tokens.wordpiece import WordPieceVocabulary
from neuroplast.training import Trainer
from neuroplast.training.optim import build_optimizer, model_parameters
from neuroplast.workflows.register import reserve_version

ODD_TEXTS = [
    "Café déjà vu: a naïve résumé of 1990s cinema!",
    "don\u2019t miss it -- it's  great...",
    "日本語のレビュー and emoji 🎬🍿",
    "",
    "word " * 200,
]


def _reviews(n: int = 12) -> list[str]:
    return list(load_builtin("rotten_tomatoes", limit=200, seed=0).texts[:n])


def _batch(ids: list[list[int]], width: int | None = None) -> torch.Tensor:
    x = torch.zeros(len(ids), width or max(map(len, ids)), dtype=torch.long)
    for row, seq in enumerate(ids):
        x[row, : len(seq)] = torch.tensor(seq)
    return x


@pytest.fixture(scope="module")
def vocab() -> WordPieceVocabulary:
    return minilm_vocabulary()


@pytest.mark.parametrize("max_length", [8, 64])
def test_tokenizer_parity_with_the_shipped_tokenizer(
    vocab: WordPieceVocabulary, max_length: int
) -> None:
    shipped = load_tokenizer(minilm_path(), max_length)
    texts = _reviews() + ODD_TEXTS
    expected = [shipped.encode(t).ids for t in texts]
    assert [vocab.encode(t, max_length=max_length) for t in texts] == expected
    assert vocab.encode_batch(texts, max_length=max_length) == expected
    assert vocab.encode("A witty film!") == [101, 1037, 25591, 2143, 999, 102]
    assert vocab.tokenize("Café") == ["[CLS]", "cafe", "[SEP]"]
    assert max(len(ids) for ids in expected) == max_length  # truncation was exercised
    # saved as vocab.json and read back (torch-free), and as tokenizer.json for other runtimes
    saved = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert isinstance(saved, WordPieceVocabulary) and saved == vocab
    assert saved.encode_batch(texts, max_length=max_length) == expected
    exported = type(shipped).from_str(hf_tokenizer_json(vocab, max_length=max_length))
    assert [exported.encode(t).ids for t in texts] == expected


def test_mean_pooling_is_invariant_to_padding(vocab: WordPieceVocabulary) -> None:
    torch.manual_seed(0)
    model = create_model("minilm", {"num_classes": 2}).eval()
    ids = vocab.encode_batch(_reviews(6), max_length=64)
    with torch.no_grad():
        alone = torch.cat([model(_batch([seq])) for seq in ids])
        padded = model(_batch(ids, width=80))
        encoded = model.encode(_batch(ids, width=80))
        encoded_tight = model.encode(_batch(ids))
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(encoded, encoded_tight, atol=1e-5, rtol=0)
    assert alone[:, 0].max() - alone[:, 0].min() > 1e-3  # not a constant output


def _perturbed_lora() -> MiniLMClassifier:
    torch.manual_seed(0)
    model = create_model("minilm", {"num_classes": 3, "finetune": "lora"})
    assert isinstance(model, MiniLMClassifier)
    with torch.no_grad():  # B starts at zero: give the adapters something to carry
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.05)
    return model.eval()


def test_lora_adapter_round_trip_through_the_registry(
    vocab: WordPieceVocabulary, tmp_path: Path
) -> None:
    model = _perturbed_lora()
    x = _batch(vocab.encode_batch(_reviews(4), max_length=64))
    with torch.no_grad():
        expected = model(x)
    registry = Registry(tmp_path / "home")
    meta = ModelMeta(
        architecture="minilm",
        modality="text",
        task="text_classification",
        arch_config=model.config.model_dump(mode="json"),
        label_names=["a", "b", "c"],
        preprocessing={"max_length": 64, "min_length": 1},
        name="rt-lora",
    )
    draft = reserve_version(registry, meta, config={"test": True}, source="api")
    draft.save_model(model, vocab)
    version = draft.finalize(model, metrics={})
    weights = draft.artifact_dir / "weights.safetensors"
    with safe_open(str(weights), framework="pt") as f:
        keys = set(f.keys())
    assert keys and all(
        ".lora_" in k or k.startswith("classifier.") for k in keys - {"base_sha256"}
    )
    assert "base_sha256" in keys and weights.stat().st_size < 1_000_000  # not the 90 MB base
    _, loaded = load_registered(registry, version.ref)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), expected)
    imported = import_bundle(registry, export_version(registry, version.ref, tmp_path / "b.tar"))
    _, again = load_registered(registry, imported.ref)
    with torch.no_grad():
        assert torch.equal(again.model(x), expected)

    merged = model.merged().eval()
    assert merged.config.finetune == "full" and "lora" not in str(merged)
    full = create_model("minilm", merged.config).eval()
    full.load_state_dict(merged.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(merged(x), expected, atol=1e-5, rtol=0)
        torch.testing.assert_close(full(x), expected, atol=1e-5, rtol=0)


def test_adapter_is_refused_on_other_base_weights() -> None:
    state = _perturbed_lora().state_dict()
    state["base_sha256"] = torch.zeros(32, dtype=torch.uint8)
    with pytest.raises(ArtifactError, match=r"trained on MiniLM base weights .* install"):
        create_model("minilm", {"num_classes": 3, "finetune": "lora"}).load_state_dict(state)


def test_head_mode_trains_only_the_head(vocab: WordPieceVocabulary) -> None:
    torch.manual_seed(0)
    model = create_model("minilm", {"num_classes": 2, "finetune": "head"})
    assert count_parameters(model, trainable_only=True) == 384 * 2 + 2
    data = load_builtin("rotten_tomatoes", limit=200, seed=0)
    ids = vocab.encode_batch(data.texts[:48], max_length=32)
    loader = [
        (_batch(ids[i : i + 16]), torch.as_tensor(data.labels[i : i + 16])) for i in (0, 16, 32)
    ]
    before = {k: v.clone() for k, v in model.named_parameters()}
    config = TrainConfig.model_validate({"epochs": 2, "early_stopping": {"enabled": False}})
    Trainer(config).fit(model, loader)
    changed = {k for k, v in model.named_parameters() if not torch.equal(v, before[k])}
    assert changed == {"classifier.weight", "classifier.bias"}
    assert set(model.state_dict()) == {"base_sha256", "classifier.weight", "classifier.bias"}


def test_layer_wise_learning_rate_decay() -> None:
    model = create_model("minilm", {"num_classes": 2, "layer_lr_decay": 0.5})
    optimizer = build_optimizer(model_parameters(model), parse_cfg().train.optimizer)
    rates = [group["lr"] for group in optimizer.param_groups]
    assert rates == pytest.approx([1e-4 * 0.5**d for d in range(8)])  # head, 6 layers, embeddings
    grouped = sum(p.numel() for g in optimizer.param_groups for p in g["params"])
    assert grouped == count_parameters(model)


def parse_cfg(**model: object) -> RunConfig:
    raw = yaml.safe_load(template_text("text-minilm"))
    raw["model"].update(model)
    raw["train"]["optimizer"]["lr"] = 1e-4
    return parse_run_config(raw, where="cfg.yaml")


def test_bad_configs_are_rejected_with_clear_errors() -> None:
    assert parse_cfg().architecture == "minilm"  # the template is valid
    with pytest.raises(ConfigError, match=r"'finetune'.*'full', 'head' or 'lora'.*got 'partial'"):
        parse_cfg(finetune="partial")
    with pytest.raises(ConfigError, match=r"unknown LoRA target module\(s\) 'qury'.*query, key"):
        parse_cfg(finetune="lora", lora={"target_modules": ["qury", "value"]})
    with pytest.raises(ConfigError, match=r"unknown key 'lora.rnk'"):
        parse_cfg(lora={"rnk": 4})
    with pytest.raises(ConfigError, match=r"vocab_size=40000"):
        create_model("minilm", {"num_classes": 2, "vocab_size": 40000})
