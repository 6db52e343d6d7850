"""The data layer: built-in data sets, user files, splits, vocabularies and PyTorch loaders.

The PyTorch pieces (``TextDataset``, ``pad_collate``, ``BucketBatchSampler``,
``ImageDataset``, ``text_loader``, ``image_loader``) live in :mod:`neuroplast.data.torch_data`
and are imported on first use, so that listing or inspecting data does not pay for importing
torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from neuroplast.data._types import ImageData, TextData
from neuroplast.data.builtin import DatasetInfo, get_builtin_info, list_builtin, load_builtin
from neuroplast.data.files import load_table
from neuroplast.data.images import load_image_folder
from neuroplast.data.splits import stratified_split
from neuroplast.data.tokenizer import Tokenizer
from neuroplast.data.vocab import Vocabulary

if TYPE_CHECKING:
    from neuroplast.data.torch_data import (
        BucketBatchSampler,
        ImageDataset,
        TextDataset,
        image_loader,
        pad_collate,
        text_loader,
    )

__all__ = [
    "BucketBatchSampler",
    "DatasetInfo",
    "ImageData",
    "ImageDataset",
    "TextData",
    "TextDataset",
    "Tokenizer",
    "Vocabulary",
    "get_builtin_info",
    "image_loader",
    "list_builtin",
    "load_builtin",
    "load_image_folder",
    "load_table",
    "pad_collate",
    "stratified_split",
    "text_loader",
]

_TORCH_NAMES = frozenset(
    {
        "BucketBatchSampler",
        "ImageDataset",
        "TextDataset",
        "image_loader",
        "pad_collate",
        "text_loader",
    }
)


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        value = getattr(importlib.import_module("neuroplast.data.torch_data"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _TORCH_NAMES)
