"""Each drift test against statistics computed by hand (closed forms) on small fixed
samples, and the streaming detector against the change it must find."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from neuroplast.errors import ConfigError, DataError
from neuroplast.monitoring import ChiSquareTest, KSTest, ProjectedKSTest, StreamingAccuracy


def test_ks_on_disjoint_samples_has_the_exact_closed_form_p_value() -> None:
    # every current value above every reference value: D = 1; of the C(7, 3) = 35 equally
    # likely orderings, two (all three lowest or all three highest) reach D = 1
    result = KSTest("x", alpha=0.1).test([1, 2, 3, 4], [5, 6, 7])
    assert result.statistic == 1.0
    assert result.p_value == pytest.approx(2 / 35)
    assert result.alarm  # 0.057 < 0.1
    assert not KSTest("x", alpha=0.05).test([1, 2, 3, 4], [5, 6, 7]).alarm


def test_ks_statistic_is_the_largest_gap_between_the_two_empirical_cdfs() -> None:
    ref, cur = [0.1, 0.4, 0.5, 0.9], [0.2, 0.3, 0.35, 0.95]
    # at 0.35 the current ECDF is 3/4 and the reference's 1/4: gap 1/2, the largest
    result = KSTest("x").test(ref, cur)
    assert result.statistic == pytest.approx(0.5)
    assert result.p_value == pytest.approx(stats.ks_2samp(ref, cur).pvalue)


def test_chi_square_of_a_2x2_table_matches_the_closed_form() -> None:
    # reference predicts class 0 30 times and class 1 10 times, the window 20 and 20
    ref = [0] * 30 + [1] * 10
    cur = [0] * 20 + [1] * 20
    a, b, c, d = 30, 10, 20, 20
    n = a + b + c + d
    chi2 = n * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))  # 16/3
    result = ChiSquareTest("mix", 2).test(ref, cur)
    assert result.statistic == pytest.approx(chi2)
    assert result.statistic == pytest.approx(16 / 3)
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(chi2 / 2)))  # chi2, 1 dof
    assert result.alarm and result.detail["window_mix"] == [0.5, 0.5]


def test_chi_square_with_two_degrees_of_freedom_and_an_unused_class() -> None:
    # classes 0..3, class 3 never predicted: a 2 x 3 table, 2 dof, p = exp(-chi2 / 2)
    ref = [0] * 10 + [1] * 10 + [2] * 10
    cur = [0] * 20 + [1] * 5 + [2] * 5
    expected = np.array([[15, 7.5, 7.5], [15, 7.5, 7.5]])
    observed = np.array([[10, 10, 10], [20, 5, 5]])
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    result = ChiSquareTest("mix", 4).test(ref, cur)
    assert result.statistic == pytest.approx(chi2)
    assert result.p_value == pytest.approx(math.exp(-chi2 / 2))


def test_chi_square_with_one_class_on_both_sides_sees_no_change() -> None:
    result = ChiSquareTest("mix", 3).test([1, 1, 1], [1, 1])
    assert (result.statistic, result.p_value, result.alarm) == (0.0, 1.0, False)
    with pytest.raises(DataError, match=r"class codes must be in 0\.\.2"):
        ChiSquareTest("mix", 3).test([0, 3], [1])


def test_projected_ks_is_bonferroni_over_per_component_ks_on_the_reference_pca() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(300, 6)) * np.array([5, 3, 2, 1, 0.5, 0.2])
    cur = rng.normal(size=(100, 6)) * np.array([5, 3, 2, 1, 0.5, 0.2])
    cur[:, 1] += 2.0  # a shift along the second axis
    test = ProjectedKSTest("features", components=3, alpha=0.05, fit_on="reference").fit(ref)
    result = test.test(None, cur)
    # by hand: centre on the reference mean, project on its top-3 right singular vectors
    mean = ref.mean(axis=0)
    _, _, vt = np.linalg.svd(ref - mean, full_matrices=False)
    ref_p, cur_p = (ref - mean) @ vt[:3].T, (cur - mean) @ vt[:3].T
    # components are defined up to sign; a KS test is not (it flips both samples alike)
    ps = [stats.ks_2samp(ref_p[:, j], cur_p[:, j]).pvalue for j in range(3)]
    assert result.p_value == pytest.approx(min(1.0, 3 * min(ps)), rel=1e-6)
    assert result.detail == {"components": 3, "component": int(np.argmin(ps))}
    assert result.alarm
    # the same reference always gives the same components: the same answer
    again = ProjectedKSTest("f", components=3, fit_on="reference").test(ref, cur)
    assert again.p_value == result.p_value


def test_projected_ks_fitted_on_the_pooled_sample_by_hand_and_symmetric() -> None:
    rng = np.random.default_rng(3)
    scale = np.array([4, 3, 2, 1, 0.5])
    ref, cur = rng.normal(size=(200, 5)) * scale, rng.normal(size=(80, 5)) * scale
    cur[:, 4] += 1.5  # a shift along a minor axis of the reference
    result = ProjectedKSTest("features", components=3).test(ref, cur)  # pooled by default
    pool = np.concatenate([ref, cur])
    mean = pool.mean(axis=0)
    _, _, vt = np.linalg.svd(pool - mean, full_matrices=False)
    ref_p, cur_p = (ref - mean) @ vt[:3].T, (cur - mean) @ vt[:3].T
    ps = [stats.ks_2samp(ref_p[:, j], cur_p[:, j]).pvalue for j in range(3)]
    assert result.p_value == pytest.approx(min(1.0, 3 * min(ps)), rel=1e-6)
    # the projection does not know which sample is which: swapping them changes nothing
    swapped = ProjectedKSTest("features", components=3).test(cur, ref)
    assert swapped.p_value == pytest.approx(result.p_value, rel=1e-9)
    # fitted on the reference alone, it is not symmetric
    alone = ProjectedKSTest("f", components=3, fit_on="reference")
    assert alone.test(cur, ref).statistic != pytest.approx(alone.test(ref, cur).statistic)
    with pytest.raises(ConfigError, match="fit_on must be"):
        ProjectedKSTest("f", fit_on="window")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"must be \[N >= 1, 5\]"):
        ProjectedKSTest("f").test(ref, cur[:, :4])


def test_projected_ks_on_unchanged_features_does_not_alarm_and_caps_at_one() -> None:
    rng = np.random.default_rng(1)
    ref, cur = rng.normal(size=(400, 4)), rng.normal(size=(200, 4))
    result = ProjectedKSTest("features", components=4).test(ref, cur)
    assert not result.alarm and result.p_value is not None and result.p_value <= 1.0
    with pytest.raises(ConfigError, match="call fit"):
        ProjectedKSTest("f").test(None, cur)


def test_adwin_detects_a_drop_in_accuracy_after_it_happens_and_not_before() -> None:
    rng = np.random.default_rng(2)
    before = rng.random(1000) < 0.9  # 90 % correct
    after = rng.random(1000) < 0.5  # then 50 %
    detector = StreamingAccuracy()
    first = detector.test(None, before.tolist())
    second = detector.test(None, after.tolist())
    assert not first.alarm and first.statistic == pytest.approx(before.mean())
    assert second.alarm and second.statistic == pytest.approx(after.mean())
    assert 0 < second.detail["at"] < 300  # inputs after the change until the alarm
    assert detector.detections[0] == 1000 + second.detail["at"] + 1
    # river's ADWIN fed the same stream by hand finds the change at the same input
    from river.drift import ADWIN

    adwin = ADWIN(delta=0.002)
    for i, correct in enumerate([*before, *after]):
        adwin.update(0.0 if correct else 1.0)
        if adwin.drift_detected:
            assert i + 1 == detector.detections[0]
            break


def test_a_steady_accuracy_raises_no_alarm() -> None:
    flags = (np.random.default_rng(3).random(3000) < 0.8).tolist()
    result = StreamingAccuracy().test(None, flags)
    assert not result.alarm and result.p_value is None


@pytest.mark.parametrize("alpha", [0, 1, -0.1, True, "0.05"])
def test_bad_levels_are_refused(alpha: object) -> None:
    with pytest.raises(ConfigError, match="alpha must be a number between 0 and 1"):
        KSTest("x", alpha=alpha)  # type: ignore[arg-type]


def test_empty_or_non_finite_samples_are_refused() -> None:
    with pytest.raises(DataError, match="the window is empty"):
        KSTest("x").test([1.0], [])
    with pytest.raises(DataError, match="NaN"):
        KSTest("x").test([1.0, math.nan], [1.0])


def test_a_missing_river_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "river", None)  # import river now raises ImportError
    monkeypatch.setitem(sys.modules, "river.drift", None)
    with pytest.raises(ConfigError, match=r"needs river.*pip install 'neuroplast\[monitor\]'"):
        StreamingAccuracy()
