"""Documents for a language model: a text file split at boundary lines, or Debian's fortunes.

A document is one unit of text (a fortune, a story); the model learns where documents end
because each one is followed by the boundary token in the token stream. Splits are by
document, so that no held-out text was seen in part during training.
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path

from neuroplast.errors import DataError, DatasetNotInstalledError

__all__ = [
    "FORTUNES_DIR",
    "Corpus",
    "fortune_documents",
    "load_corpus",
    "read_documents",
    "split_documents",
]

logger = logging.getLogger(__name__)

#: Where Debian's ``fortunes`` package puts its English quotes (one file per category).
FORTUNES_DIR = Path("/usr/share/games/fortunes")
_BLANK_SPLIT = re.compile(r"\n[ \t]*\n")


def split_text(text: str, separator: str) -> list[str]:
    """The documents of ``text``: split at lines equal to ``separator`` ('' = blank lines),
    stripped, empty ones dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if separator == "":
        parts = _BLANK_SPLIT.split(text)
    else:
        parts = re.split(rf"^[ \t]*{re.escape(separator)}[ \t]*$", text, flags=re.MULTILINE)
    return [p.strip("\n").rstrip() for p in parts if p.strip()]


def read_documents(path: str | Path, separator: str = "") -> list[str]:
    """The documents of a UTF-8 text file; a clear :class:`DataError` when there are none."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"text file {file} not found; set data.path to a UTF-8 text file")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{file} is not UTF-8 text (byte {e.start}); convert it, e.g. `iconv -t utf-8`"
        ) from e
    documents = split_text(text, separator)
    if not documents:
        raise DataError(
            f"{file} holds no text (empty or only blank lines); a language model needs at "
            "least one document"
        )
    return documents


def fortune_documents(directory: Path = FORTUNES_DIR) -> list[str]:
    """Every English fortune of Debian's ``fortunes`` package (records end at ``%`` lines)."""
    if not directory.is_dir():
        raise DatasetNotInstalledError(
            f"the fortunes data set needs Debian's `fortunes` package ({directory} is "
            "missing): `sudo apt-get install fortunes`"
        )
    documents: list[str] = []
    for file in sorted(directory.iterdir()):
        if file.suffix or file.is_symlink() or not file.is_file():
            continue  # skip the .dat indexes and the .u8 links to the same files
        documents += split_text(file.read_text(encoding="utf-8", errors="replace"), "%")
    if not documents:
        raise DatasetNotInstalledError(f"{directory} holds no fortune files; reinstall `fortunes`")
    return documents


@dataclass(frozen=True)
class Corpus:
    """Documents split three ways, and where they came from."""

    source: str
    train: list[str]
    val: list[str]
    test: list[str]

    def split(self, name: str) -> list[str]:
        if name not in ("train", "val", "test"):
            raise DataError(f"unknown split {name!r}; choose train, val or test")
        docs: list[str] = getattr(self, name)
        return docs


def split_documents(
    documents: list[str], *, val_fraction: float, test_fraction: float, seed: int
) -> tuple[list[str], list[str], list[str]]:
    """Shuffle documents by ``seed`` and cut them into train / val / test (each non-empty)."""
    if len(documents) < 3:
        raise DataError(
            f"{len(documents)} document(s) cannot make train, validation and test splits; "
            "give at least 3 (documents end at data boundaries: see generation.document_separator)"
        )
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(order) * val_fraction))
    n_test = max(1, round(len(order) * test_fraction))
    n_train = len(order) - n_val - n_test
    if n_train < 1:
        raise DataError(f"{len(documents)} documents leave none for training; add documents")
    pick = [documents[i] for i in order]
    return pick[:n_train], pick[n_train : n_train + n_val], pick[n_train + n_val :]


#: Near-duplicates: documents whose sets of word 6-grams overlap this much (Jaccard) or more.
SHINGLE_WORDS, NEAR_DUPLICATE = 6, 0.5
_WORD = re.compile(r"[a-z0-9']+")


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    return set(zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False))


def _distinct(documents: list[str]) -> list[str]:
    """Each document once, so that no text is both trained on and held out: a repeat
    (compared by its words, lowercased) or a near-duplicate of a kept document (word
    6-gram sets with Jaccard similarity >= 0.5: the same quote with another attribution
    or wording) is dropped; the first is kept. Of fortunes' 15,217 quotes, 219 repeat the
    words of another and 190 more are near-duplicates (14,808 kept); before, about 5 % of
    the held-out quotes had a near-copy in training that a 5-gram could recite."""
    seen: set[tuple[str, ...]] = set()
    owners: dict[tuple[str, ...], list[int]] = {}
    kept_shingles: list[set[tuple[str, ...]]] = []
    kept: list[str] = []
    for doc in documents:
        words = _WORD.findall(doc.lower())
        key = tuple(words) if words else (doc.strip(),)
        if key in seen:
            continue
        shingles = _shingles(words)
        shared: dict[int, int] = {}
        for s in shingles:
            for owner in owners.get(s, ()):
                shared[owner] = shared.get(owner, 0) + 1
        if any(
            n / (len(shingles) + len(kept_shingles[j]) - n) >= NEAR_DUPLICATE
            for j, n in shared.items()
        ):
            continue
        seen.add(key)
        for s in shingles:
            owners.setdefault(s, []).append(len(kept))
        kept_shingles.append(shingles)
        kept.append(doc)
    if len(kept) < len(documents):
        logger.info("dropped %d repeated or near-duplicate documents", len(documents) - len(kept))
    return kept


def load_corpus(
    *,
    dataset: str | None,
    path: str | None,
    separator: str,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    limit: int | None = None,
) -> Corpus:
    """The corpus a run config names: ``dataset: fortunes`` or ``path:`` to a text file;
    repeated and near-duplicate documents are kept once; ``limit`` keeps that many,
    sampled by the seed."""
    if dataset is not None:
        if dataset != "fortunes":
            raise DataError(
                f"data.dataset={dataset!r} is not a text-generation data set; use "
                "`fortunes` or set data.path to a text file"
            )
        documents, source = fortune_documents(), "fortunes"
    elif path is not None:
        documents, source = read_documents(path, separator), str(path)
    else:
        raise DataError("set data.dataset: fortunes or data.path: a text file")
    documents = _distinct(documents)
    if limit is not None and limit < len(documents):
        documents = random.Random(seed + 1).sample(documents, limit)
    train, val, test = split_documents(
        documents, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed
    )
    logger.info("%s: %d / %d / %d documents", source, len(train), len(val), len(test))
    return Corpus(source=source, train=train, val=val, test=test)
