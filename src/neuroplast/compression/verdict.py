"""Is a compressed or exported model better than its parent? Judged on the measured table.

A result is **smaller** when it has at least :data:`MIN_SIZE_GAIN` (1 %) fewer bytes than
its parent; **faster** at a batch size when it is faster beyond the measured spread (its
batch-1 latency's upper quartile below the parent's lower quartile, or its batch-64
throughput's lower quartile above the parent's upper quartile; see
:mod:`neuroplast.inference.timing`); and **within the accuracy bound** when its test
accuracy is at most ``max_accuracy_drop`` below the parent's (default
:data:`DEFAULT_MAX_ACCURACY_DROP`, one point). A table measured without labels (a model
trained through the Python API, compressed without ``data=``) has no accuracy: the bound is
then not checked, and the outcome's notes say so.

A result **qualifies** (``if_better=True`` registers it) when it is smaller or faster at
some measured batch size, and within the accuracy bound. Whatever ``if_better`` says, a
result that is not faster at any measured batch size, or loses more accuracy than the bound,
gets a warning in its outcome's ``warnings``, and so does a table whose timings vary by more
than :data:`~neuroplast.inference.timing.NOISY_SPREAD` (25 %) of their median between
repeats (a busy machine: the speed-ups are then uncertain).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from neuroplast.errors import ConfigError
from neuroplast.inference.timing import NOISY_SPREAD

__all__ = [
    "DEFAULT_MAX_ACCURACY_DROP",
    "MIN_SIZE_GAIN",
    "Decision",
    "SpeedCheck",
    "Verdict",
    "check_accuracy_drop",
    "judge",
    "noise_warning",
    "rows_with_status",
]

#: The accuracy a result may lose against its parent and still count as better (1 point).
DEFAULT_MAX_ACCURACY_DROP = 0.01
#: "Smaller" means at least this share fewer bytes than the parent.
MIN_SIZE_GAIN = 0.01

Status = Literal["parent", "registered", "not registered", "compared"]


def check_accuracy_drop(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(
            f"max_accuracy_drop (--max-accuracy-drop) must be a share between 0 and 1 "
            f"(0.01 = one point of accuracy), got {value}"
        )
    return value


@dataclass(frozen=True)
class SpeedCheck:
    """The speed-up (parent median / this median, as the table shows it) at one batch size,
    and whether it is beyond the spread either way."""

    batch_size: int
    speedup: float
    faster: bool
    slower: bool

    def describe(self) -> str:
        return f"{self.speedup:.2f}x at batch {self.batch_size}"


@dataclass(frozen=True)
class Verdict:
    technique: str
    size_before_mb: float
    size_after_mb: float
    smaller: bool
    speeds: tuple[SpeedCheck, ...]
    accuracy_before: float | None
    accuracy_after: float | None
    max_accuracy_drop: float

    @property
    def faster(self) -> bool:
        return any(s.faster for s in self.speeds)

    @property
    def accuracy_measured(self) -> bool:
        return self.accuracy_before is not None and self.accuracy_after is not None

    @property
    def accuracy_change(self) -> float:
        if self.accuracy_before is None or self.accuracy_after is None:
            return 0.0  # not measured (see the module doc)
        return self.accuracy_after - self.accuracy_before

    @property
    def within_accuracy(self) -> bool:
        # a hair of tolerance: accuracies are shares of the same test inputs, rounded
        return self.accuracy_change >= -self.max_accuracy_drop - 1e-9

    @property
    def qualifies(self) -> bool:
        return (self.smaller or self.faster) and self.within_accuracy

    def _size(self) -> str:
        return f"{self.size_before_mb:.2f} -> {self.size_after_mb:.2f} MB"

    def _speeds(self) -> str:
        return ", ".join(s.describe() for s in self.speeds)

    def _accuracy(self) -> str:
        return (
            f"{-self.accuracy_change * 100:.2f} points of accuracy "
            f"({self.accuracy_before:.4f} -> {self.accuracy_after:.4f}), more than the "
            f"{self.max_accuracy_drop * 100:.2f}-point bound"
        )

    @property
    def reason(self) -> str | None:
        """Why the result does not qualify, in a few words (None when it does)."""
        if self.qualifies:
            return None
        parts = []
        if not (self.smaller or self.faster):
            parts.append("not smaller, not faster")
        if not self.within_accuracy:
            parts.append(
                f"accuracy {self.accuracy_change * 100:+.2f} pt "
                f"(bound -{self.max_accuracy_drop * 100:.2f} pt)"
            )
        return "; ".join(parts)

    def warnings(self, name: str, parent: str) -> list[str]:
        """The sentences a user must read about ``name`` (e.g. ``"rt-cnn:2 (dynamic int8)"``)
        against ``parent``: not faster at any measured batch size, too much accuracy lost."""
        out = []
        if not self.faster:
            size = "is smaller" if self.smaller else "is not smaller"
            link = "but" if self.smaller else "and"
            out.append(
                f"{name} {size} ({self._size()}) {link} not faster ({self._speeds()}) than {parent}"
            )
        if not self.within_accuracy:
            out.append(f"{name} loses {self._accuracy()}, against {parent}")
        return out


def judge(parent: dict[str, Any], row: dict[str, Any], *, max_accuracy_drop: float) -> Verdict:
    """The verdict on one table ``row`` against the ``parent`` row (see the module doc)."""
    latency = SpeedCheck(
        batch_size=1,
        speedup=float(row["latency_speedup"]),
        faster=row["latency_q3_ms"] < parent["latency_q1_ms"],
        slower=row["latency_q1_ms"] > parent["latency_q3_ms"],
    )
    throughput = SpeedCheck(
        batch_size=int(row["batch_size"]),
        speedup=float(row["throughput_speedup"]),
        faster=row["throughput_q1_per_s"] > parent["throughput_q3_per_s"],
        slower=row["throughput_q3_per_s"] < parent["throughput_q1_per_s"],
    )
    before, after = float(parent["size_mb"]), float(row["size_mb"])
    return Verdict(
        technique=str(row["technique"]),
        size_before_mb=before,
        size_after_mb=after,
        smaller=after <= before * (1.0 - MIN_SIZE_GAIN),
        speeds=(latency, throughput),
        accuracy_before=None if parent["accuracy"] is None else float(parent["accuracy"]),
        accuracy_after=None if row["accuracy"] is None else float(row["accuracy"]),
        max_accuracy_drop=max_accuracy_drop,
    )


def noise_warning(table: Sequence[dict[str, Any]]) -> str | None:
    """One sentence naming the rows whose batch-1 or batch-N timing has a spread above
    :data:`~neuroplast.inference.timing.NOISY_SPREAD` of its median (None if none has)."""
    noisy = []
    for row in table:
        share = max(
            row["latency_spread_ms"] / row["latency_p50_ms"] if row["latency_p50_ms"] else 0.0,
            row["throughput_spread_per_s"] / row["throughput_per_s"]
            if row["throughput_per_s"]
            else 0.0,
        )
        if share > NOISY_SPREAD:
            noisy.append(f"{row['technique']} (± {share:.0%})")
    if not noisy:
        return None
    return (
        f"timings vary by more than ± {NOISY_SPREAD:.0%} of their median between repeats for "
        f"{', '.join(noisy)}: the machine was busy and the speed-ups are uncertain; measure "
        "again when it is quieter"
    )


@dataclass(frozen=True)
class Decision:
    """What became of one table row: the ``parent`` it is compared with, a ``registered``
    version, a result ``not registered`` (``reason`` says why), or one ``compared`` only
    (the student trained alone)."""

    status: Status
    version: str | None = None
    reason: str | None = None


def rows_with_status(
    table: Sequence[dict[str, Any]], decisions: Sequence[Decision]
) -> list[dict[str, Any]]:
    """The table's rows, each with ``status``, ``version`` (a ref or None) and ``reason``."""
    return [
        {**row, "status": d.status, "version": d.version, "reason": d.reason}
        for row, d in zip(table, decisions, strict=True)
    ]
