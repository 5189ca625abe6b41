"""The bootstrap (stats/bootstrap.py) pinned where the brute-force comparisons leave a tolerance: each
resampling path against the definition of a bootstrap replicate drawn with the same generator, the
defaults, and the rounding and fallback note of the BCa interval. Fast by design: mutation testing runs
these for every mutant of the module (docs/mutation.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kalibra_action.stats import bootstrap as S
from kalibra_action.stats.bca import NOT_FINITE

X = np.array([3.0, 1.0, 4.0, 1.5, 5.0, 9.0, 2.0, 6.0])


def test_plain_mean_replicates_are_means_of_resamples_drawn_by_index():
    # a replicate: n indices drawn uniformly (int32, one row per replicate), the mean of those values
    r = 7
    rng = np.random.default_rng(3)
    idx = rng.integers(0, X.size, size=(r, X.size), dtype=np.int32)
    want = X[idx].mean(axis=1)
    assert S._mean_plain(X, r, np.random.default_rng(3)) == pytest.approx(want, rel=1e-15)


@pytest.mark.parametrize("x", [X, X[:7]])
def test_plain_median_replicates_are_medians_of_resamples_drawn_by_index(x):
    r = 9
    idx = np.random.default_rng(4).integers(0, x.size, size=(r, x.size), dtype=np.int32)
    want = np.median(x[idx], axis=1)  # the sorted data indexed: the same draws, the same medians
    xs = np.sort(x)
    want_sorted = np.median(xs[np.random.default_rng(4).integers(0, x.size, size=(r, x.size),
                                                                 dtype=np.int32)], axis=1)
    got = S._median_plain(x, r, np.random.default_rng(4))
    assert got.tolist() == want_sorted.tolist() and got.shape == want.shape


def test_plain_resampling_spans_chunks(monkeypatch):
    # with 16 cells a chunk and 8 values, 2 replicates a chunk: 5 replicates come from chunks of 2, 2, 1,
    # drawn one after another from the same generator
    monkeypatch.setattr(S, "CHUNK_CELLS", 16)
    rng = np.random.default_rng(5)
    idx = np.concatenate([rng.integers(0, 8, size=(k, 8), dtype=np.int32) for k in (2, 2, 1)])
    assert S._mean_plain(X, 5, np.random.default_rng(5)) == pytest.approx(X[idx].mean(axis=1), rel=1e-15)
    xs = np.sort(X)
    assert S._median_plain(X, 5, np.random.default_rng(5)).tolist() == np.median(xs[idx], axis=1).tolist()


def test_normal_mean_replicates_have_the_standard_error_of_the_mean():
    # mean 4, population sd (ddof 0) of 1, 3, 5, 7 is √5; a replicate is 4 + √5/√4 · Z
    x = np.array([1.0, 3.0, 5.0, 7.0])
    z = np.random.default_rng(6).standard_normal(5)
    want = 4 + math.sqrt(5) / 2 * z
    assert S._mean_normal(x, 5, np.random.default_rng(6)) == pytest.approx(want, rel=1e-14)
    assert S._mean_normal(np.full(3, 2.5), 4, np.random.default_rng(6)).tolist() == [2.5] * 4
    assert S._mean_normal(np.zeros(3), 2, np.random.default_rng(6)).tolist() == [0.0, 0.0]


def test_exact_median_of_three_values_by_inverse_cdf():
    # n = 3: P(M* <= x_(1)) = P(Bin(3, 1/3) >= 2) = 7/27, P(M* <= x_(2)) = P(Bin(3, 2/3) >= 2) = 20/27;
    # a uniform u picks x_(1) below 7/27, x_(2) up to 20/27, else x_(3)
    x = np.array([30.0, 10.0, 20.0])
    u = np.random.default_rng(8).random(50)
    want = np.where(u <= 7 / 27, 10.0, np.where(u <= 20 / 27, 20.0, 30.0))
    assert S._median_exact(x, 50, np.random.default_rng(8)).tolist() == want.tolist()


def test_exact_median_of_four_values_averages_the_coupled_middle_pair():
    # n = 4, k = 2 and 3: P(X*(2) <= x_(j)) = P(Bin(4, j/4) >= 2), P(X*(3) <= x_(j)) = P(Bin(4, j/4) >= 3)
    from fractions import Fraction
    from math import comb

    def at_least(k, j):
        p = Fraction(j, 4)
        return float(sum(comb(4, i) * p**i * (1 - p) ** (4 - i) for i in range(k, 5)))

    x = np.array([1.0, 2.0, 4.0, 8.0])
    u = np.random.default_rng(9).random(40)

    def pick(k):
        cdf = np.array([at_least(k, j) for j in (1, 2, 3, 4)])
        return x[np.minimum(np.searchsorted(cdf, u, side="left"), 3)]

    want = pick(2) * 0.5 + pick(3) * 0.5
    assert S._median_exact(x, 40, np.random.default_rng(9)) == pytest.approx(want, rel=1e-15)


def test_the_defaults_are_10000_resamples_seed_42_and_95_percent():
    rng = np.random.default_rng(10)
    b, c = rng.lognormal(0, 1, 25), rng.lognormal(0.2, 1, 25)
    default = S.bootstrap_pct(b, c)
    assert default == S.bootstrap_pct(b, c, "median", resamples=10_000, seed=42, alpha=0.05, bca=True)
    assert default.resamples == 10_000 and default.bca is not None
    assert default != S.bootstrap_pct(b, c, seed=43)


def test_bca_bounds_are_rounded_to_one_decimal_and_a_fallback_says_why():
    rng = np.random.default_rng(12)
    b, c = rng.lognormal(0, 1, 30), rng.lognormal(0.3, 1, 30)
    res = S.bootstrap_pct(b, c, "mean", resamples=500)
    assert res.bca == tuple(round(v, 1) for v in res.bca) and res.note is None
    # the unrounded bounds, from bca.bca_mean_pct on the same replicates, differ from the rounded ones
    from kalibra_action.stats.bca import bca_mean_pct

    reps = np.linspace(1.0, 2.0, 50)
    raw = bca_mean_pct(np.array([1.0, 2, 3]), np.array([2.0, 3, 4]), reps, reps + 0.5)
    got, note = S._bca(np.array([1.0, 2, 3]), np.array([2.0, 3, 4]), reps, reps + 0.5, "mean", 0.05)
    assert got == (round(raw[0], 1), round(raw[1], 1)) and note is None and got != raw
    # the median path is the median's BCa, not the mean's
    from kalibra_action.stats.bca import bca_median_pct

    b9, c4 = np.array([1.0, 2, 9]), np.array([2.0, 3, 4])
    median, _ = S._bca(b9, c4, reps, reps + 0.5, "median", 0.05)
    raw = bca_median_pct(b9, c4, reps, reps + 0.5)
    assert median == (round(raw[0], 1), round(raw[1], 1)) != S._bca(b9, c4, reps, reps + 0.5, "mean", 0.05)[0]
    # a % change past the float range: no BCa, and the note says why
    assert S._bca(np.full(3, 5e-324), np.full(3, 1e300), reps, reps + 1, "median", 0.05) == (None, NOT_FINITE)


def test_chunks_for_a_single_value(monkeypatch):
    # one value a row: a chunk holds CHUNK_CELLS rows (4 here), so 5 replicates are 4 + 1
    monkeypatch.setattr(S, "CHUNK_CELLS", 4)
    assert S._chunks(1, 5) == [4, 1] and S._chunks(2, 5) == [2, 2, 1] and S._chunks(4, 2) == [1, 1]


def test_normal_mean_replicates_of_values_below_1():
    # 0.1, 0.3, 0.5, 0.7: mean 0.4, sd (ddof 0) √0.05; the scaling by the largest |value| (0.7) cancels
    x = np.array([0.1, 0.3, 0.5, 0.7])
    z = np.random.default_rng(13).standard_normal(6)
    want = 0.4 + math.sqrt(0.05) / 2 * z
    assert S._mean_normal(x, 6, np.random.default_rng(13)) == pytest.approx(want, rel=1e-13)


def test_plain_mean_replicates_at_the_float_limit_overflow_quietly():
    # three values of the largest float: each scaled by 1/3 and summed back, rounding reaches inf; that
    # replicate is left undefined, without a warning (warnings are errors in this suite)
    top = np.full(3, np.finfo(float).max)
    assert np.isinf(S._mean_plain(top, 5, np.random.default_rng(1))).all()


def test_two_proportion_z_with_one_run_on_a_side():
    # 2 of 10 vs 1 of 1: pool 3/11, se = √(3/11 · 8/11 · (1/10 + 1)), z = (1 − 0.2) / se
    se = math.sqrt(3 / 11 * 8 / 11 * (1 / 10 + 1))
    z, p = S.two_proportion_z(10, 2, 1, 1)
    assert z == round(0.8 / se, 4) and p == round(math.erfc(0.8 / se / math.sqrt(2)), 6)
    assert S.two_proportion_z(1, 1, 10, 2)[0] == -z


@pytest.mark.parametrize(("n", "lo", "hi"), [(10, 0, 9), (10, 2, 7), (200, 0, 60), (200, 90, 110),
                                             (200, 150, 199), (201, 1, 3)])
def test_window_is_the_sorted_order_statistics_lo_to_hi(n, lo, hi):
    # both the sort-everything branch (a window of at least n/2) and the partition branch
    values = np.random.default_rng(n + lo).permutation(n).astype(float) * 1.5
    assert S._window(values, lo, hi).tolist() == np.sort(values)[lo:hi + 1].tolist()


def test_order_stat_cdf_by_counting():
    # P(X*(k) <= x_(j+1)) = P(at least k of n draws land in the j + 1 smallest) = P(Bin(n, (j+1)/n) >= k)
    from fractions import Fraction
    from math import comb

    n, k, lo, hi = 7, 4, 1, 6
    want = [float(sum(comb(n, i) * Fraction(j + 1, n) ** i * (1 - Fraction(j + 1, n)) ** (n - i)
                      for i in range(k, n + 1))) for j in range(lo, hi + 1)]
    got = S._order_stat_cdf(n, k, lo, hi)
    assert got.shape == (hi - lo + 1,) and got.tolist() == pytest.approx(want, rel=1e-13)


def test_bootstrap_takes_whole_numbers_past_int64_as_floats_and_infinite_replicates_quietly():
    big = [10**20, 3 * 10**20, 2 * 10**20, 5 * 10**20]
    as_float = S.bootstrap_pct(np.array(big, float), np.array(big[::-1], float) * 1.1, "mean", resamples=300)
    assert S.bootstrap_pct(big, np.array(big[::-1], float) * 1.1, "mean", resamples=300) == as_float
    assert S.bootstrap_pct(np.array(big, float), [int(v * 1.1) for v in big[::-1]], "mean",
                           resamples=300).ci == as_float.ci
    # every replicate mean of three largest floats rounds to inf: inf − inf has no % change, no warning
    top = np.full(3, np.finfo(float).max)
    assert S.bootstrap_pct(top, top, "mean", resamples=50) is None


class FixedDraws:
    """A generator whose uniforms are given: the inverse-CDF sampler maps each to an order statistic."""

    def __init__(self, u):
        self.u = np.asarray(u, float)

    def random(self, r):
        return self.u[:r]


def test_the_exact_median_sampler_stays_within_8_sqrt_n_plus_8_order_statistics():
    # n = 1001: k = 501, w = 8 · 31 + 8 = 256, so the window is x_(245) … x_(757) (1-based); a uniform
    # of 1e-300 lies below every CDF value there (the lowest is ~1e-60) and picks the window's first value
    values = np.random.default_rng(14).permutation(1001).astype(float)  # x_(j) = j − 1
    got = S._median_exact(values, 3, FixedDraws([1e-300, 0.5, 0.5]))
    assert got.tolist() == [244.0, 500.0, 500.0]
    # n = 1000 (even): k = 500 and 501, the same w: windows start at x_(244); the pair's mean
    even = np.random.default_rng(15).permutation(1000).astype(float)
    assert S._median_exact(even, 1, FixedDraws([1e-300])).tolist() == [243.0]
