"""BCa pinned piece by piece: z0 with ties, the jackknife acceleration, the adjusted levels, and the whole
interval against scipy's BCa computed from the very same bootstrap replicates.

Efron's BCa interval takes the bootstrap quantiles at the levels Φ(z0 + (z0 + z_q) / (1 − a (z0 + z_q)))
for q = α/2 and 1 − α/2, where z0 = Φ⁻¹(share of replicates below the estimate, ties counted half) and
a = Σu³ / (6 (Σu²)^(3/2)) with u the jackknife deviations (mean of the leave-one-out estimates minus each).
Every expected value below is computed from those formulas in the test (or by scipy), never copied from
our output; tolerances are 1e-12 relative where the arithmetic is the same, 1e-9 against scipy.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from kalibra_action.stats.bca import acceleration, bca_bounds, bca_mean_pct, bca_median_pct

EXACT = 1e-12


def linear_quantile(sorted_x: np.ndarray, q: float) -> float:
    """The quantile at level q by linear interpolation between order statistics at position (n − 1) q."""
    h = (sorted_x.size - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, sorted_x.size - 1)
    return float(sorted_x[lo] + (h - lo) * (sorted_x[hi] - sorted_x[lo]))


def bca_by_hand(reps: np.ndarray, z0: float, a: float, alpha: float = 0.05) -> tuple[float, float]:
    xs = np.sort(reps)
    out = []
    for q in (alpha / 2, 1 - alpha / 2):
        zq = stats.norm.ppf(q)
        out.append(linear_quantile(xs, stats.norm.cdf(z0 + (z0 + zq) / (1 - a * (z0 + zq)))))
    return out[0], out[1]


# ---- z0: the share of replicates below the estimate, ties counted half ---------------------------

def test_z0_counts_ties_as_half():
    # 20 replicates; the estimate 3 has 2 below and 6 equal: share (2 + 6/2) / 20 = 0.25, z0 = Φ⁻¹(0.25).
    # Dropping the ties would give 0.10; counting them fully 0.40.
    reps = np.array([1, 2, 3, 3, 3, 3, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], dtype=float)
    z0 = stats.norm.ppf(0.25)
    ours = bca_bounds(reps, 3.0, 0.0)
    assert ours == pytest.approx(bca_by_hand(reps, z0, 0.0), rel=EXACT)
    for wrong in (stats.norm.ppf(0.10), stats.norm.ppf(0.40)):
        assert ours != pytest.approx(bca_by_hand(reps, wrong, 0.0), rel=1e-6)


def test_z0_is_zero_when_the_estimate_splits_the_replicates_evenly():
    # a = 0 and z0 = 0: BCa is the plain percentile interval at 2.5 % and 97.5 %
    reps = np.arange(1.0, 1002.0)  # 1 … 1001, the estimate 501 in the middle: 500 below, 1 tie → 0.5
    assert bca_bounds(reps, 501.0, 0.0) == pytest.approx(
        (linear_quantile(reps, 0.025), linear_quantile(reps, 0.975)), rel=EXACT)
    assert bca_bounds(reps, 501.0, 0.0) == pytest.approx((26.0, 976.0), rel=EXACT)  # 1 + 1000 q


def test_every_replicate_on_one_side_leaves_bca_undefined():
    reps = np.arange(10.0)
    assert bca_bounds(reps, -1.0, 0.0) is None and bca_bounds(reps, 100.0, 0.0) is None
    assert bca_bounds(reps, 5.0, None) is None  # no acceleration
    assert bca_bounds(np.array([1.0, np.nan, np.inf]), 1.0, 0.0) is None  # one finite replicate


# ---- the acceleration -----------------------------------------------------------------------------

def test_acceleration_of_one_group_by_hand():
    # jack = 0, 0, 3: mean 1, u = 1, 1, −2; Σu³ = 1 + 1 − 8 = −6, Σu² = 6 → a = −6 / (6 · 6^1.5) = −6^−1.5
    assert acceleration([np.array([0.0, 0.0, 3.0])]) == pytest.approx(-(6**-1.5), rel=EXACT)
    # a symmetric set has no skew: a = 0; a constant one has no spread: a = 0 by convention
    assert acceleration([np.array([-2.0, 0.0, 2.0])]) == 0.0
    assert acceleration([np.full(4, 7.0)]) == 0.0


def test_acceleration_pools_the_two_groups_sums():
    # group 1: 0, 0, 3 → Σu³ = −6, Σu² = 6; group 2: 1, 3 → u = 1, −1, Σu³ = 0, Σu² = 2
    # pooled: a = −6 / (6 · 8^1.5) = −1 / 8^1.5
    a = acceleration([np.array([0.0, 0.0, 3.0]), np.array([1.0, 3.0])])
    assert a == pytest.approx(-(8**-1.5), rel=EXACT)
    # a non-finite leave-one-out estimate is left out; a group with none finite makes a undefined
    assert acceleration([np.array([0.0, 0.0, 3.0, np.inf]), np.array([1.0, 3.0, np.nan])]) == a
    assert acceleration([np.array([1.0, 2.0]), np.array([np.inf])]) is None


# ---- the adjusted levels --------------------------------------------------------------------------

@pytest.mark.parametrize(("a", "alpha"), [(0.1, 0.05), (-0.07, 0.05), (0.03, 0.10), (0.0, 0.01)])
def test_adjusted_levels_by_hand(a, alpha):
    # 1000 distinct skewed replicates; the estimate just above the 400th smallest: share 0.4, no ties
    reps = np.random.default_rng(4).lognormal(0, 0.5, 1000) - 0.5
    estimate = float(np.sort(reps)[399]) + 1e-9
    z0 = stats.norm.ppf(0.4)
    ours = bca_bounds(reps, estimate, a, alpha)
    assert ours == pytest.approx(bca_by_hand(reps, z0, a, alpha), rel=EXACT)
    # the 95 % interval squeezed to 94 % (levels 3 % and 97 %) is visibly different
    if alpha == 0.05:
        assert ours != pytest.approx(bca_by_hand(reps, z0, a, 0.06), rel=1e-4)


def test_a_level_past_the_accelerations_pole_is_undefined():
    # 1 − a (z0 + z_q) <= 0 has no BCa level: with z0 = 0 the upper one's pole is at a = 1 / z_0.975
    reps = np.arange(1.0, 1002.0)
    assert bca_bounds(reps, 501.0, 1 / stats.norm.ppf(0.975) + 0.01) is None
    assert bca_bounds(reps, 501.0, 1 / stats.norm.ppf(0.975) - 0.01) is not None


# ---- the whole interval against scipy's BCa on the same replicates ------------------------------

def scipy_bca(samples: tuple[np.ndarray, np.ndarray], statistic, reps: np.ndarray, alpha: float = 0.05):
    """scipy.stats.bootstrap's BCa from *our* replicates (bootstrap_result, no new resamples)."""
    ci = stats.bootstrap(samples, statistic, n_resamples=0, method="BCa", confidence_level=1 - alpha,
                         bootstrap_result=SimpleNamespace(bootstrap_distribution=reps),
                         vectorized=True).confidence_interval
    return ci.low, ci.high


def resampled(rng: np.random.Generator, x: np.ndarray, r: int, fn) -> np.ndarray:
    return fn(x[rng.integers(0, x.size, size=(r, x.size))], axis=1)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("alpha", [0.05, 0.10])
def test_bca_mean_pct_equals_scipy_on_the_same_replicates(seed, alpha):
    # equal sizes: scipy weights each sample's jackknife by (n − 1)/n, which cancels when both n agree
    rng = np.random.default_rng(seed)
    b, c = rng.lognormal(0, 0.8, 40), rng.lognormal(0.3, 0.8, 40)
    bm, cm = resampled(rng, b, 4000, np.mean), resampled(rng, c, 4000, np.mean)

    def pct(x, y, axis=-1):
        return (np.mean(y, axis=axis) - np.mean(x, axis=axis)) / np.mean(x, axis=axis) * 100

    ref = scipy_bca((b, c), pct, (cm - bm) / bm * 100, alpha)
    assert bca_mean_pct(b, c, bm, cm, alpha) == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("seed", [4, 5])
def test_bca_median_pct_equals_scipy_on_the_same_replicates(seed):
    rng = np.random.default_rng(seed)
    b, c = rng.lognormal(0, 1.0, 31), rng.lognormal(-0.2, 1.0, 31)
    bm, cm = resampled(rng, b, 4000, np.median), resampled(rng, c, 4000, np.median)

    def pct(x, y, axis=-1):
        return (np.median(y, axis=axis) - np.median(x, axis=axis)) / np.median(x, axis=axis) * 100

    ref = scipy_bca((b, c), pct, (cm - bm) / bm * 100)
    assert bca_median_pct(b, c, bm, cm) == pytest.approx(ref, rel=1e-9)


def test_the_acceleration_matters_here():
    # the scipy comparisons above would also pass with a = 0 if the data had no skew; these do
    rng = np.random.default_rng(1)
    b, c = rng.lognormal(0, 0.8, 40), rng.lognormal(0.3, 0.8, 40)
    bm, cm = resampled(rng, b, 4000, np.mean), resampled(rng, c, 4000, np.mean)
    reps = (cm - bm) / bm * 100
    est = (c.mean() - b.mean()) / b.mean() * 100
    with_a, without = bca_mean_pct(b, c, bm, cm), bca_bounds(reps, est, 0.0)
    assert abs(with_a[1] - without[1]) > 1e-3 * (with_a[1] - with_a[0])


# ---- where BCa is undefined, at each boundary (docs/mutation.md) ---------------------------------


def test_bca_needs_two_finite_replicates():
    assert bca_bounds(np.array([1.0, np.nan, np.inf]), 0.5, 0.0) is None
    lo, hi = bca_bounds(np.array([0.0, 1.0]), 0.5, 0.0)  # z0 = 0, a = 0: the plain 2.5 % / 97.5 % levels
    assert (lo, hi) == pytest.approx((0.025, 0.975), rel=1e-12)


def test_bca_needs_three_values_a_side_and_a_nonzero_baseline():
    reps = np.linspace(-10.0, 30.0, 41)
    three, two = np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0])
    assert bca_mean_pct(two, three, reps, reps) is None and bca_mean_pct(three, two, reps, reps) is None
    assert bca_mean_pct(np.array([-1.0, 0.0, 1.0]), three, reps, reps) is None  # baseline mean 0
    base_reps, cur_reps = np.full(41, 2.0), np.linspace(1.5, 3.5, 41)
    assert bca_mean_pct(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.5, 3.5]), base_reps, cur_reps) is not None


def test_acceleration_edge_cases():
    assert acceleration([np.array([np.nan]), np.array([1.0, 2.0])]) is None
    assert acceleration([np.array([3.0, 3.0]), np.array([3.0, 3.0, 3.0])]) == 0.0  # no spread
    assert acceleration([np.zeros(2), np.zeros(3)]) == 0.0
    # one group u = mean − x for x = (0, 0, 3): u = (1, 1, −2); Σu³ = −6, Σu² = 6 → a = −6 / (6 · 6^1.5)
    assert acceleration([np.array([0.0, 0.0, 3.0]), np.array([5.0, 5.0])]) == pytest.approx(
        -6 / (6 * 6**1.5), rel=1e-12)


def test_midpoint_and_safe_mean_at_the_float_limits():
    from kalibra_action.stats.bca import midpoint, safe_mean

    assert float(midpoint(1.0, 3.0)) == 2.0 and float(midpoint(0.25, 0.75)) == 0.5
    assert float(midpoint(5e-324, 5e-324)) == 5e-324
    assert float(midpoint(1.5e308, 1.7e308)) == 1.6e308
    assert safe_mean(np.array([1.7e308, 1.7e308, 1.7e308])) == pytest.approx(1.7e308, rel=1e-15)
    assert safe_mean(np.array([1.0, 2.0, 6.0])) == 3.0


# ---- boundaries and pieces the comparisons above leave loose (docs/mutation.md) -------------------


def test_a_level_exactly_at_the_pole_is_undefined():
    # α = 2 (1 − Φ(1)) to the last bit: z_(1 − α/2) is exactly 1.0 (and z_(α/2) exactly −1.0); with z0 = 0
    # and a = 1 the upper level's denominator 1 − a (z0 + z) is exactly 0: no level, no interval
    from kalibra_action.stats import distributions as D

    alpha = 0.31731050786291415
    assert D.norm_ppf(1 - alpha / 2) == 1.0 and D.norm_ppf(alpha / 2) == -1.0
    reps = np.arange(1.0, 1002.0)
    assert bca_bounds(reps, 501.0, 1.0, alpha) is None
    # just inside the pole the upper level is Φ(1 / 1e-3) ~ 1: the largest replicate
    lo, hi = bca_bounds(reps, 501.0, 0.999, alpha)
    assert hi == 1001.0 and lo == pytest.approx(linear_quantile(reps, stats.norm.cdf(-1 / 1.999)), rel=EXACT)


def test_an_undefined_bca_explains_itself_once_and_only_when_not_finite():
    from kalibra_action.stats.bca import NOT_FINITE

    notes: list[str] = []
    assert bca_bounds(np.arange(10.0), 5.0, None, notes=notes) is None
    assert bca_bounds(np.arange(10.0), 5.0, None, notes=notes) is None
    assert bca_bounds(np.arange(10.0), math.inf, 0.0, notes=notes) is None
    assert notes == [NOT_FINITE]  # said once
    quiet: list[str] = []  # every replicate on one side, or too few: undefined, but nothing is wrong
    assert bca_bounds(np.arange(10.0), -1.0, 0.0, notes=quiet) is None
    assert bca_bounds(np.arange(10.0), 10.0, 0.0, notes=quiet) is None
    assert bca_bounds(np.array([1.0]), 1.0, 0.0, notes=quiet) is None
    assert quiet == []


def test_loo_medians_by_brute_force_for_odd_and_even_sizes():
    from kalibra_action.stats.bca import loo_medians

    rng = np.random.default_rng(11)
    for n in range(2, 10):
        x = np.sort(rng.integers(0, 50, n).astype(float))
        want = [float(np.median(np.delete(x, i))) for i in range(n)]
        assert loo_medians(x).tolist() == want, n


def test_loo_means_by_brute_force():
    from kalibra_action.stats.bca import loo_means

    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    assert loo_means(x).tolist() == pytest.approx([30 / 4, 29 / 4, 27 / 4, 23 / 4, 15 / 4], rel=1e-15)


def test_acceleration_with_a_group_without_spread_of_its_own():
    # group 1 all zeros (its top is 0: left as it is, deviations 0); group 2: 0, 0, 3 → a = −6^−1.5 as alone
    got = acceleration([np.zeros(3), np.array([0.0, 0.0, 3.0])])
    assert got == pytest.approx(-(6**-1.5), rel=EXACT)
    # scale-free: 0, 0, 1 (largest |value| exactly 1) and 0, 0, 3e300 give the same a as 0, 0, 3
    assert acceleration([np.array([0.0, 0.0, 1.0])]) == pytest.approx(-(6**-1.5), rel=EXACT)
    # the scaling to at most 1 keeps it exact for deviations whose cubes would overflow
    assert acceleration([np.array([0.0, 0.0, 3e300])]) == pytest.approx(-(6**-1.5), rel=1e-12)
    # the groups are scaled by the larger top: group 2 ten times group 1 (same as unscaled by hand)
    g1, g2 = np.array([0.0, 0.0, 3.0]), np.array([10.0, 30.0])  # u: 1, 1, −2 and 10, −10
    assert acceleration([g1, g2]) == pytest.approx(-6 / (6 * (6 + 200) ** 1.5), rel=EXACT)
    # values near the float limit: their mean would overflow unless scaled first (0, 1, 1 → a = 6^−1.5)
    assert acceleration([np.array([0.0, 1.7e308, 1.7e308])]) == pytest.approx(6**-1.5, rel=1e-12)
    # a group whose largest value is below 1 is scaled like the others: u 0.1, 0.1, −0.2 and 10, −10
    small = acceleration([np.array([0.0, 0.0, 0.3]), g2])
    assert small == pytest.approx(-0.006 / (6 * (0.06 + 200) ** 1.5), rel=1e-12)
    # deviations of 1e-300 (the other group constant): divided by the spread they are 1, 1, −2 again
    tiny = acceleration([np.array([0.0, 0.0, 3e-300]), np.full(2, 1.0)])
    assert tiny == pytest.approx(-(6**-1.5), rel=EXACT)


@pytest.mark.parametrize("seed", [6, 7])
def test_bca_median_pct_of_even_samples_equals_scipy(seed):
    # even n: the median is the midpoint of the two middle values, the leave-one-out medians odd-sized
    rng = np.random.default_rng(seed)
    b, c = rng.lognormal(0, 1.0, 30), rng.lognormal(0.2, 1.0, 30)
    bm, cm = resampled(rng, b, 4000, np.median), resampled(rng, c, 4000, np.median)

    def pct(x, y, axis=-1):
        return (np.median(y, axis=axis) - np.median(x, axis=axis)) / np.median(x, axis=axis) * 100

    ref = scipy_bca((b, c), pct, (cm - bm) / bm * 100)
    assert bca_median_pct(b, c, bm, cm) == pytest.approx(ref, rel=1e-9)


def test_bca_of_three_values_a_side_by_hand():
    # base 1, 2, 4 (mean 7/3), cur 2, 3, 7 (mean 4): estimate (4 − 7/3)/(7/3) = 5/7 → 71.43 %
    # jackknife of the % change: base left out → means 3, 5/2, 3/2; cur left out → 5, 9/2, 5/2
    base, cur = np.array([1.0, 2.0, 4.0]), np.array([2.0, 3.0, 7.0])
    est = (4 - 7 / 3) / (7 / 3) * 100
    jack = [(4 - np.array([3, 2.5, 1.5])) / np.array([3, 2.5, 1.5]) * 100,
            (np.array([5, 4.5, 2.5]) - 7 / 3) / (7 / 3) * 100]
    u = [j.mean() - j for j in jack]
    a = sum((v**3).sum() for v in u) / (6 * sum((v**2).sum() for v in u) ** 1.5)
    reps_b = np.linspace(1.5, 3.2, 200)
    reps_c = np.linspace(2.5, 5.5, 200)[::-1]
    reps = (reps_c - reps_b) / reps_b * 100
    z0 = stats.norm.ppf(np.count_nonzero(reps < est) / 200)
    assert bca_mean_pct(base, cur, reps_b, reps_c) == pytest.approx(bca_by_hand(reps, z0, a), rel=EXACT)


def test_the_mean_path_explains_a_fallback_too():
    from kalibra_action.stats.bca import NOT_FINITE

    reps = np.linspace(1.0, 2.0, 50)
    notes: list[str] = []  # a % change of 1e300 over a denormal is past the float range
    assert bca_mean_pct(np.full(3, 5e-324), np.full(3, 1e300), reps, reps + 1, notes=notes) is None
    assert notes == [NOT_FINITE]


def test_bca_mean_pct_takes_any_numbers_as_floats():
    # whole numbers past int64 (a plain list would make numpy hold Python ints) give the float answer
    base, cur = [10**20, 2 * 10**20, 4 * 10**20], [2 * 10**20, 3 * 10**20, 7 * 10**20]
    reps_b, reps_c = np.linspace(1.5e20, 3.2e20, 200), np.linspace(2.5e20, 5.5e20, 200)[::-1]
    want = bca_mean_pct(np.array(base, float), np.array(cur, float), reps_b, reps_c)
    assert want is not None
    assert bca_mean_pct(base, np.array(cur, float), reps_b, reps_c) == want
    assert bca_mean_pct(np.array(base, float), cur, reps_b, reps_c) == want


def test_midpoint_of_opposite_infinities_is_nan_without_a_warning():
    # pytest turns warnings into errors here: numpy's "invalid value" warning must stay silenced
    from kalibra_action.stats.bca import midpoint

    assert math.isnan(float(midpoint(math.inf, -math.inf)))
    assert float(midpoint(math.inf, 1.0)) == math.inf


def test_pct_change_is_float_and_silent_at_zero_and_past_the_float_range():
    # warnings are errors in this suite: 1/0, 0/0 and an overflow must give inf / nan quietly
    from kalibra_action.stats.bca import pct_change

    assert float(pct_change(0.0, 1.0)) == math.inf and math.isnan(float(pct_change(0.0, 0.0)))
    assert float(pct_change(1e-300, 1e300)) == math.inf
    assert pct_change(2.0, np.array([3.0, 1.0])).tolist() == [50.0, -50.0]
    big = pct_change(1e20, [2 * 10**20, 3 * 10**20])  # whole numbers past int64 are taken as floats
    assert big.dtype == np.float64 and big.tolist() == [100.0, 200.0]


def test_the_sample_size_rule_holds_for_each_side_alone():
    # replicates with spread on both sides of the estimate, so only the size rule can make BCa undefined
    two, three = np.array([1.0, 3.0]), np.array([1.0, 2.0, 4.0])
    reps_b, reps_c = np.linspace(1.5, 3.2, 200), np.linspace(1.5, 3.5, 200)[::-1]
    assert bca_mean_pct(three, three * 1.3, reps_b, reps_c) is not None
    assert bca_mean_pct(two, three, reps_b, reps_c) is None
    assert bca_mean_pct(three, two, reps_b, reps_c) is None
    # a baseline mean of exactly 1 is an ordinary baseline (only 0 has no % change)
    assert bca_mean_pct(np.array([0.5, 1.0, 1.5]), three, reps_b / 2, reps_c) is not None


def test_loo_medians_of_one_value_stays_in_bounds():
    from kalibra_action.stats.bca import loo_medians

    assert loo_medians(np.array([5.0])).tolist() == [5.0]
