"""The one speed-measurement helper, driven by a fake clock: numbers, not timings."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from neuroplast.errors import ConfigError
from neuroplast.inference.timing import MS, Timing, time_call, time_calls


class FakeClock:
    """A clock that only moves when a fake workload says so; it logs who ran."""

    def __init__(self) -> None:
        self.now = 0.0
        self.log: list[str] = []

    def __call__(self) -> float:
        return self.now

    def work(self, name: str, seconds: list[float]) -> Callable[[], None]:
        durations = iter(seconds)

        def run() -> None:
            self.log.append(name)
            self.now += next(durations)

        return run


def test_warmup_is_untimed_and_repeats_are_interleaved() -> None:
    clock = FakeClock()
    a = clock.work("a", [9.0, 0.004, 0.001, 0.010, 0.002, 0.003])  # first: warm-up
    b = clock.work("b", [9.0, 0.020, 0.020, 0.020, 0.020, 0.020])
    ta, tb = time_calls([a, b], repeats=5, warmup=1, clock=clock)
    assert clock.log == ["a", "b"] * 6
    assert ta.samples == pytest.approx((4.0, 1.0, 10.0, 2.0, 3.0))
    # sorted 1, 2, 3, 4, 10: median 3, quartiles 2 and 4 (linear interpolation)
    assert (ta.median, ta.q1, ta.q3) == pytest.approx((3.0, 2.0, 4.0))
    assert ta.spread == pytest.approx(1.0)
    assert ta.repeats == 5 and ta.unit == "ms"
    assert tb.median == pytest.approx(20.0) and tb.spread == pytest.approx(0.0)
    assert ta.best == pytest.approx(1.0)


def test_quartiles_interpolate_between_samples() -> None:
    t = Timing.from_samples([4.0, 1.0, 3.0, 2.0])
    assert (t.q1, t.median, t.q3) == pytest.approx((1.75, 2.5, 3.25))
    assert t.spread == pytest.approx(0.75)
    assert t.relative_spread == pytest.approx(0.3)
    one = Timing.from_samples([5.0])
    assert (one.q1, one.median, one.q3, one.spread) == (5.0, 5.0, 5.0, 0.0)


def test_items_divide_each_sample_and_inverse_gives_a_rate() -> None:
    clock = FakeClock()
    # 50 inputs in 0.1 s, 0.2 s and 0.05 s: 2, 4 and 1 ms per input
    per_input = time_call(
        clock.work("batch", [0.0, 0.1, 0.2, 0.05]), repeats=3, items=50, clock=clock
    )
    assert per_input.samples == pytest.approx((2.0, 4.0, 1.0))
    rate = per_input.inverse(MS, unit="/s")
    assert rate.unit == "/s"
    assert sorted(rate.samples) == pytest.approx([250.0, 500.0, 1000.0])
    assert (rate.q1, rate.median, rate.q3) == pytest.approx((375.0, 500.0, 750.0))
    seconds = time_call(clock.work("s", [0.0, 0.5]), repeats=1, scale=1.0, unit="s", clock=clock)
    assert seconds.median == pytest.approx(0.5) and seconds.unit == "s"


def test_faster_only_beyond_the_spread() -> None:
    parent = Timing.from_samples([1.0, 1.1, 1.2, 1.3, 1.4])  # q1 1.1, q3 1.3
    overlapping = Timing.from_samples([0.8, 0.9, 1.0, 1.15, 1.2])  # median lower, q3 1.15
    clear = Timing.from_samples([0.5, 0.6, 0.7, 0.8, 0.9])  # q3 0.8 < 1.1
    assert not overlapping.faster_than(parent)
    assert clear.faster_than(parent) and not parent.faster_than(clear)
    high = Timing.from_samples([900, 1000, 1100], unit="/s")
    low = Timing.from_samples([500, 600, 700], unit="/s")
    assert high.higher_than(low) and not low.higher_than(high)


def test_format_and_json_form() -> None:
    t = Timing.from_samples([1.07, 1.10, 1.12, 1.17, 1.30])
    assert t.format() == "1.120 ms ± 0.035"
    assert t.to_dict() == {
        "median": 1.12,
        "q1": 1.1,
        "q3": 1.17,
        "spread": 0.035,
        "repeats": 5,
        "unit": "ms",
    }


def test_bad_arguments_are_clear_errors() -> None:
    noop: Callable[[], None] = lambda: None  # noqa: E731
    with pytest.raises(ConfigError, match="repeats must be at least 1, got 0"):
        time_calls([noop], repeats=0)
    with pytest.raises(ConfigError, match="warmup must be 0 or more"):
        time_calls([noop], warmup=-1)
    with pytest.raises(ConfigError, match="items gives 1 counts for 2 callables"):
        time_calls([noop, noop], items=[3])
    with pytest.raises(ConfigError, match="items must be at least 1"):
        time_calls([noop], items=0)
    with pytest.raises(ConfigError, match="needs at least one sample"):
        Timing.from_samples([])
    with pytest.raises(ConfigError, match="cannot invert a timing with a sample <= 0"):
        Timing.from_samples([0.0, 1.0]).inverse(MS, unit="/s")
