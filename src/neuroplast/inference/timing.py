"""The one way neuroplast measures speed: warm-up, interleaved repeats, median and spread.

Every speed figure (the ``compress`` and ``export`` tables, ``neuroplast bench``, the
``auto`` backend's choice) comes from :func:`time_calls`:

1. each callable runs ``warmup`` times untimed (first calls allocate, JIT-pack weights and
   wake thread pools);
2. then ``repeats`` rounds, each timing every callable once, in turn (interleaved, so that
   a burst of load on a shared machine hits every variant of a round alike);
3. each sample is the elapsed time divided by ``items`` (the inputs one call handles), in
   milliseconds by default.

A :class:`Timing` keeps the samples and reports their **median** and **spread**, where the
spread is half the interquartile range (``(q3 - q1) / 2``, quartiles by linear
interpolation between samples): ``1.12 ms ± 0.05`` means that half the repeats fell within
about 0.05 ms of 1.12. One variant is *faster* than another only beyond the spread: its
upper quartile below the other's lower quartile (:meth:`Timing.faster_than`).

This module imports neither torch nor numpy; the clock is a parameter, so tests drive it
with a fake one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from neuroplast.errors import ConfigError

__all__ = ["MS", "NOISY_SPREAD", "Clock", "Timing", "time_call", "time_calls"]

Clock = Callable[[], float]

#: Seconds -> milliseconds.
MS = 1000.0
#: A timing whose spread is above this share of its median is too noisy to rank variants.
NOISY_SPREAD = 0.25


@dataclass(frozen=True)
class Timing:
    """Repeated measurements of one thing: median, quartiles and the samples themselves.

    ``unit`` names what the samples are (``"ms"`` per input, ``"/s"`` inputs per second).
    """

    median: float
    q1: float
    q3: float
    repeats: int
    unit: str
    samples: tuple[float, ...]

    @classmethod
    def from_samples(cls, samples: Sequence[float], *, unit: str = "ms") -> Timing:
        values = tuple(float(s) for s in samples)
        if not values:
            raise ConfigError("a Timing needs at least one sample")
        if len(values) == 1:
            q1 = q3 = values[0]
        else:
            q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return cls(
            median=float(statistics.median(values)),
            q1=float(q1),
            q3=float(q3),
            repeats=len(values),
            unit=unit,
            samples=values,
        )

    @property
    def spread(self) -> float:
        """Half the interquartile range: the ``±`` printed beside the median."""
        return (self.q3 - self.q1) / 2.0

    @property
    def relative_spread(self) -> float:
        """The spread as a share of the median (0.1: ``± 10 %``)."""
        return self.spread / self.median if self.median else 0.0

    @property
    def best(self) -> float:
        """The smallest sample (the least disturbed run, for times)."""
        return min(self.samples)

    def inverse(self, numerator: float, *, unit: str) -> Timing:
        """``numerator / sample`` for every sample: milliseconds per input into inputs per
        second with ``inverse(1000.0, unit="/s")``; the quartiles are recomputed."""
        if any(s <= 0 for s in self.samples):
            raise ConfigError(f"cannot invert a timing with a sample <= 0 ({self.samples})")
        return Timing.from_samples([numerator / s for s in self.samples], unit=unit)

    def faster_than(self, other: Timing) -> bool:
        """For times: this one's upper quartile is below ``other``'s lower quartile."""
        return self.q3 < other.q1

    def higher_than(self, other: Timing) -> bool:
        """For rates: this one's lower quartile is above ``other``'s upper quartile."""
        return self.q1 > other.q3

    def format(self, digits: int = 3) -> str:
        """``"1.120 ms ± 0.050"`` (the unit after the median)."""
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.median:.{digits}f}{unit} ± {self.spread:.{digits}f}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"median", "q1", "q3", "spread", "repeats", "unit"}``."""
        return {
            "median": round(self.median, 6),
            "q1": round(self.q1, 6),
            "q3": round(self.q3, 6),
            "spread": round(self.spread, 6),
            "repeats": self.repeats,
            "unit": self.unit,
        }


def time_calls(
    calls: Sequence[Callable[[], object]],
    *,
    repeats: int = 5,
    warmup: int = 1,
    items: int | Sequence[int] = 1,
    scale: float = MS,
    unit: str = "ms",
    clock: Clock = time.perf_counter,
) -> list[Timing]:
    """Time every callable ``repeats`` times, interleaved round by round, after ``warmup``
    untimed calls each; one :class:`Timing` per callable, in order.

    Each sample is ``elapsed * scale / items`` (``items`` per callable, or one for all):
    milliseconds per input by default.
    """
    if repeats < 1:
        raise ConfigError(f"repeats must be at least 1, got {repeats}")
    if warmup < 0:
        raise ConfigError(f"warmup must be 0 or more, got {warmup}")
    per_call = [items] * len(calls) if isinstance(items, int) else list(items)
    if len(per_call) != len(calls):
        raise ConfigError(f"items gives {len(per_call)} counts for {len(calls)} callables")
    if any(n < 1 for n in per_call):
        raise ConfigError(f"items must be at least 1 per callable, got {per_call}")
    for _ in range(warmup):
        for call in calls:
            call()
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for k, call in enumerate(calls):
            start = clock()
            call()
            samples[k].append((clock() - start) * scale / per_call[k])
    return [Timing.from_samples(s, unit=unit) for s in samples]


def time_call(
    call: Callable[[], object],
    *,
    repeats: int = 5,
    warmup: int = 1,
    items: int = 1,
    scale: float = MS,
    unit: str = "ms",
    clock: Clock = time.perf_counter,
) -> Timing:
    """:func:`time_calls` for one callable."""
    return time_calls(
        [call], repeats=repeats, warmup=warmup, items=items, scale=scale, unit=unit, clock=clock
    )[0]
