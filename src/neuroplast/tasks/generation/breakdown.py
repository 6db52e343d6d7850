"""Where a language model's loss goes: the scored tokens of a stream grouped by their place
in the document and by how often the training split holds them, with each model's mean loss
per group (nats per token). Used to compare a network with the n-gram baseline token by
token (``benchmarks/bench_generate.py --parts analysis``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from neuroplast.errors import DataError

__all__ = ["LossGroup", "document_positions", "loss_breakdown"]

#: Places in the document of a target token (1 = the first token after the boundary).
POSITIONS = ((1, 1), (2, 4), (5, 16), (17, 64), (65, None))
#: How often the target token occurs in the training stream.
COUNTS = ((10_000, None), (1_000, 9_999), (100, 999), (0, 99))


@dataclass(frozen=True)
class LossGroup:
    """``tokens`` scored tokens (``share`` of all) and each model's mean loss on them."""

    name: str
    tokens: int
    share: float
    mean_loss: dict[str, float]


def document_positions(stream: Sequence[int], boundary: int = 0) -> list[int]:
    """The place in its document of each of ``stream[1:]``: 1 for the first token after a
    boundary token, 2 for the next, ...; a boundary target gets its document's place too."""
    places, place = [], 0
    for i in range(1, len(stream)):
        place = 1 if stream[i - 1] == boundary else place + 1
        places.append(place)
    return places


def _label(low: int, high: int | None, unit: str) -> str:
    if high is None:
        return f"{unit} >= {low:,}"
    return f"{unit} {low:,}" if low == high else f"{unit} {low:,}-{high:,}"


def _group(
    name: str, keep: list[bool], losses: Mapping[str, Sequence[float]], total: int
) -> LossGroup:
    n = sum(keep)
    means = {
        model: (sum(x for x, k in zip(values, keep, strict=True) if k) / n if n else 0.0)
        for model, values in losses.items()
    }
    return LossGroup(name, n, n / total if total else 0.0, means)


def loss_breakdown(
    stream: Sequence[int],
    train: Sequence[int],
    losses: Mapping[str, Sequence[float]],
    boundary: int = 0,
) -> dict[str, list[LossGroup]]:
    """Each model's per-token ``losses`` on ``stream[1:]`` (one value per scored token),
    grouped by place in the document (the boundary token, the end of a document, is a
    group of its own) and by the target token's count in the ``train`` stream."""
    total = len(stream) - 1
    for model, values in losses.items():
        if len(values) != total:
            raise DataError(
                f"{model}: {len(values)} losses for {total} scored tokens; give one per "
                "token of stream[1:]"
            )
    targets = list(stream[1:])
    places = document_positions(stream, boundary)
    end = [t == boundary for t in targets]
    by_place = [_group("end of document", end, losses, total)]
    for low, high in POSITIONS:
        keep = [
            not e and p >= low and (high is None or p <= high)
            for p, e in zip(places, end, strict=True)
        ]
        by_place.append(_group(_label(low, high, "position"), keep, losses, total))
    counts = Counter(train)
    seen = [counts[t] for t in targets]
    by_count = [
        _group(
            _label(low, high, "train count"),
            [c >= low and (high is None or c <= high) for c in seen],
            losses,
            total,
        )
        for low, high in COUNTS
    ]
    return {"position in document": by_place, "target's count in training": by_count}
