"""The bootstrap's 20 % undefined-resample cap at its boundary, and the percentile rule, on fed replicates.

A resample is undefined when its baseline statistic is 0 and the current one is not (0 → 0 is a 0 %
change). Kalibra's rule: with more than 20 % of the resamples undefined there is no CI. The replicates
are fed in (resample_stat replaced for the test) so that the count of undefined ones is exact.
"""

from __future__ import annotations

import numpy as np
import pytest

from kalibra_action.stats import bootstrap as S

R = 100


def feed(monkeypatch: pytest.MonkeyPatch, base_reps: np.ndarray, cur_reps: np.ndarray) -> None:
    """bootstrap_pct draws the baseline's replicates first, then the current side's: hand it these."""
    calls = iter([np.asarray(base_reps, float), np.asarray(cur_reps, float)])
    monkeypatch.setattr(S, "resample_stat", lambda values, stat, r, rng: next(calls))


def replicates(undefined: int, zero_to_zero: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """R resample pairs: `undefined` with baseline 0 and current 5, `zero_to_zero` with both 0, the rest
    baseline 1 + i/100 against current 2 (changes (2 / b − 1) · 100, all distinct)."""
    rest = R - undefined - zero_to_zero
    b = np.concatenate([np.zeros(undefined + zero_to_zero), 1 + np.arange(rest) / 100])
    c = np.concatenate([np.full(undefined, 5.0), np.zeros(zero_to_zero), np.full(rest, 2.0)])
    return b, c


def percentile_ci(defined_changes: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """Kalibra's order-statistic rule: the int(m α/2)-th and int(m (1 − α/2))-th smallest (0-based)."""
    d = np.sort(defined_changes)
    m = d.size
    return round(float(d[int(m * alpha / 2)]), 1), round(float(d[min(m - 1, int(m * (1 - alpha / 2)))]), 1)


DATA = (np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0]))  # not used by the fed replicates, but by BCa


def test_exactly_20_percent_undefined_still_gives_a_ci(monkeypatch):
    b, c = replicates(20)
    feed(monkeypatch, b, c)
    res = S.bootstrap_pct(*DATA, resamples=R)
    assert res is not None and res.undefined == 20 and res.resamples == R
    defined = (c[20:] - b[20:]) / b[20:] * 100  # 80 changes: the 3rd and the 79th smallest
    assert res.ci == percentile_ci(defined)


def test_one_more_undefined_resample_gives_none(monkeypatch):
    feed(monkeypatch, *replicates(21))
    assert S.bootstrap_pct(*DATA, resamples=R) is None


def test_zero_to_zero_resamples_are_a_zero_change_not_undefined(monkeypatch):
    # 20 undefined and 30 where both sides are 0: 80 defined changes, 30 of them 0 %
    b, c = replicates(20, zero_to_zero=30)
    feed(monkeypatch, b, c)
    res = S.bootstrap_pct(*DATA, resamples=R)
    assert res is not None and res.undefined == 20
    defined = np.concatenate([np.zeros(30), (c[50:] - b[50:]) / b[50:] * 100])
    assert res.ci == percentile_ci(defined)
    assert res.ci[0] == 0.0  # the 30 zero changes are the smallest


@pytest.mark.parametrize("alpha", [0.05, 0.07, 0.10, 0.20])  # 0.07: m α/2 = 3.5 is cut, not rounded
def test_percentile_bounds_follow_the_order_statistic_rule(monkeypatch, alpha):
    b, c = replicates(0)
    feed(monkeypatch, b, c)
    res = S.bootstrap_pct(*DATA, resamples=R, alpha=alpha, bca=False)
    assert res.ci == percentile_ci((c - b) / b * 100, alpha)
    assert res.bca is None and res.method == "percentile"


# ── The bootstrap's other constants, each pinned where it changes a result (docs/mutation.md) ──


def test_z95_is_the_upper_2_5_percent_normal_quantile():
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.975)
    assert z == pytest.approx(S.Z95, rel=1e-15)
    assert S.mde_from_ci((-1.0, 1.0)) == pytest.approx(2.80 * 2 / (2 * z), rel=1e-15)  # 2.80 SE, SE = w / 2z


@pytest.mark.parametrize(("n", "r", "rows"), [
    (1 << 20, 10, [4, 4, 2]),  # 2**22 cells a chunk / 2**20 cells a row = 4 rows a chunk
    (1 << 21, 3, [2, 1]),
    (1 << 23, 3, [1, 1, 1]),  # a row wider than the budget is still one row
    (3, 5, [5]),
    (0, 2, [2]),
])
def test_resampling_chunks_hold_at_most_2_to_the_22_cells(n, r, rows):
    assert S._chunks(n, r) == rows


def _same_draws(fn, values, r=64, seed=7):
    return fn(values, r, np.random.default_rng(seed))


@pytest.mark.parametrize(("n", "plain"), [(398, True), (399, False), (400, False), (402, False)])
def test_even_medians_are_resampled_for_real_below_400_values(n, plain):
    """Odd n always takes the exact order-statistic path; even n below 400 resamples indices."""
    values = np.random.default_rng(n).lognormal(0, 1, n)
    got = S.resample_stat(values, "median", 64, np.random.default_rng(7))
    want, other = (S._median_plain, S._median_exact) if plain else (S._median_exact, S._median_plain)
    np.testing.assert_array_equal(got, _same_draws(want, values))
    assert not np.array_equal(got, _same_draws(other, values))


@pytest.mark.parametrize(("n", "plain"), [(499, True), (500, False), (501, False)])
def test_means_are_resampled_for_real_below_500_values(n, plain):
    values = np.random.default_rng(n).lognormal(0, 1, n)
    got = S.resample_stat(values, "mean", 64, np.random.default_rng(7))
    want, other = (S._mean_plain, S._mean_normal) if plain else (S._mean_normal, S._mean_plain)
    np.testing.assert_array_equal(got, _same_draws(want, values))
    assert not np.array_equal(got, _same_draws(other, values))


def test_a_100_percent_interval_is_the_smallest_and_largest_change(monkeypatch):
    # alpha 0: int(m · 1) = m is past the end; the upper bound is the largest change, the lower the smallest
    b, c = replicates(0)
    feed(monkeypatch, b, c)
    d = (c - b) / b * 100
    res = S.bootstrap_pct(*DATA, resamples=R, alpha=0.0, bca=False)
    assert res.ci == (round(float(d.min()), 1), round(float(d.max()), 1))


def test_the_median_bootstrap_gets_the_median_bca_and_a_fallback_keeps_its_note(monkeypatch):
    from kalibra_action.stats.bca import NOT_FINITE, bca_median_pct

    base, curr = np.array([1.0, 2.0, 9.0]), np.array([2.0, 3.0, 4.0])
    b, c = 1 + np.arange(R) / 100, np.linspace(1.5, 3.5, R)
    feed(monkeypatch, b, c)
    res = S.bootstrap_pct(base, curr, "median", resamples=R)
    want = bca_median_pct(base, curr, b, c)
    assert res.bca == (round(want[0], 1), round(want[1], 1)) and res.note is None
    # a % change past the float range between the data (not the replicates): percentile CI, BCa's note
    feed(monkeypatch, b, c)
    res = S.bootstrap_pct(np.full(3, 5e-324), np.full(3, 1e300), "median", resamples=R)
    assert res is not None and res.bca is None and res.note == NOT_FINITE
