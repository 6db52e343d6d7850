"""A run's language-model data: documents -> tokenizer (fitted on train) -> token streams."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neuroplast.tasks.generation.config import GenerationConfig
from neuroplast.tasks.generation.corpus import Corpus, load_corpus, read_documents
from neuroplast.tasks.generation.tokenizer import (
    encode_documents,
    tokenizer_from_json,
    train_tokenizer,
)

__all__ = ["LMData", "corpus_of", "prepare_lm_data", "text_chars"]

SPLITS = ("train", "val", "test")


def text_chars(documents: list[str]) -> int:
    """Characters a stream of ``documents`` predicts: each document and its boundary."""
    return sum(len(d) + 1 for d in documents)


@dataclass
class LMData:
    corpus: Corpus
    tokenizer: Any
    streams: dict[str, list[int]]

    def chars(self, split: str) -> int:
        return text_chars(self.corpus.split(split))


def corpus_of(data: dict[str, Any], gen: GenerationConfig) -> Corpus:
    """The corpus a run's ``data:`` section (as a mapping) names, split as in training."""
    return load_corpus(
        dataset=data.get("dataset"),
        path=data.get("path"),
        separator=gen.document_separator,
        val_fraction=float(data.get("val_fraction", 0.1)),
        test_fraction=float(data.get("test_fraction", 0.1)),
        seed=int(data.get("seed", 13)),
        limit=data.get("limit"),
    )


def prepare_lm_data(
    data: dict[str, Any], gen: GenerationConfig, tokenizer_json: dict[str, Any] | None = None
) -> LMData:
    """Documents, the tokenizer (fitted on the training split unless ``tokenizer_json`` is
    a saved one) and the token stream of each split."""
    corpus = corpus_of(data, gen)
    if tokenizer_json is None:
        tokenizer = train_tokenizer(
            gen.tokenizer, corpus.train, vocab_size=gen.vocab_size, max_chars=gen.max_chars
        )
    else:
        tokenizer = tokenizer_from_json(tokenizer_json)
    streams = {split: encode_documents(tokenizer, corpus.split(split)) for split in SPLITS}
    return LMData(corpus, tokenizer, streams)


def file_stream(tokenizer: Any, path: str, gen: GenerationConfig) -> tuple[list[int], int]:
    """The token stream and character count of another text file (``evaluate --data``)."""
    documents = read_documents(path, gen.document_separator)
    return encode_documents(tokenizer, documents), text_chars(documents)
