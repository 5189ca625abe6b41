"""stats/distributions.py pinned where scipy's broad comparisons leave room: exact small cases worked out
with fractions and 50-digit decimals (binomial and hypergeometric masses by counting, log-beta of whole
numbers by factorials), closed forms, and each branch's boundary on both sides. Fast by design: mutation
testing runs these for every mutant of the module (docs/mutation.md)."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction
from math import comb, factorial

import numpy as np
import pytest
from scipy import special, stats

from kalibra_action.stats import distributions as D

TIGHT = 1e-15  # a few units in the last place


def binom_exact(k: int, n: int, p: Fraction) -> Fraction:
    return comb(n, k) * p**k * (1 - p) ** (n - k)


def lbeta_exact(a: int, b: int) -> float:
    """log B(a, b) = log((a−1)! (b−1)! / (a+b−1)!) for whole a, b, in 50-digit decimals."""
    with localcontext() as ctx:
        ctx.prec = 50
        return float((Decimal(factorial(a - 1)) * factorial(b - 1) / factorial(a + b - 1)).ln())


# ---- normal ---------------------------------------------------------------------------------------


def test_normal_edges_and_closed_forms():
    assert D.norm_cdf(0.0) == 0.5 and D.norm_sf(0.0) == 0.5
    assert D.norm_cdf(-40.0) == pytest.approx(stats.norm.cdf(-40.0), rel=1e-14)  # the tail keeps precision
    assert D.norm_sf(40.0) == pytest.approx(stats.norm.sf(40.0), rel=1e-14)
    assert D.norm_ppf(0.0) == -math.inf and D.norm_ppf(1.0) == math.inf
    for outside in (-0.1, 1.1, math.nan):
        assert math.isnan(D.norm_ppf(outside))
    assert D.norm_ppf(0.5) == 0.0 and D.norm_isf(0.025) == pytest.approx(1.959963984540054, rel=TIGHT)
    assert D.norm_ppf(1e-300) == pytest.approx(stats.norm.ppf(1e-300), rel=1e-14)


# ---- log-beta and the incomplete beta -------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [(1, 1), (2, 3), (9, 9), (9, 10), (10, 9), (10, 10), (10, 11), (3, 10),
                                      (1, 10), (12, 37), (50, 60), (10, 1000), (400, 3)])
def test_lbeta_of_whole_numbers_by_factorials(a, b):
    # the three branches: both >= 10 (Stirling for all), one >= 10, both small (lgamma)
    got = float(D._lbeta(np.asarray(float(a)), np.asarray(float(b))))
    assert got == pytest.approx(lbeta_exact(a, b), rel=TIGHT, abs=1e-15)


def test_lbeta_broadcasts_over_mixed_branches():
    a = np.array([2.0, 10.0, 30.0, 3.0])
    b = np.array([3.0, 12.0, 5.0, 40.0])
    want = [lbeta_exact(2, 3), lbeta_exact(10, 12), lbeta_exact(30, 5), lbeta_exact(3, 40)]
    assert D._lbeta(a, b) == pytest.approx(want, rel=TIGHT)


def test_stirling_correction_against_lgamma():
    # log Γ(x) − [(x − ½) log x − x + log √(2π)] at x = 10, 17.5, 100
    for x in (10.0, 17.5, 100.0):
        want = math.lgamma(x) - ((x - 0.5) * math.log(x) - x + 0.5 * math.log(2 * math.pi))
        assert float(D._stirling_corr(np.asarray(x))) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("size", [1, 4, 5, 12])  # up to 4 elements: the scalar loop; above: the vector one
def test_betainc_matches_scipy_tightly_on_both_paths(size):
    rng = np.random.default_rng(size)
    a = rng.choice([0.5, 1.0, 2.5, 7.0, 30.0, 400.0], size)
    b = rng.choice([0.5, 1.0, 3.0, 12.0, 250.0], size)
    x = rng.uniform(0.001, 0.999, size)
    assert D.betainc(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=1e-12, abs=1e-300)


def test_betainc_either_side_of_the_swap_point_and_at_the_edges():
    # the continued fraction runs on I_x(a, b) below x = (a + 1)/(a + b + 2), on 1 − I_(1−x)(b, a) above
    a, b = 3.0, 5.0
    pivot = (a + 1) / (a + b + 2)
    for x in (pivot - 1e-9, pivot, pivot + 1e-9, 0.05, 0.95):
        assert float(D.betainc(a, b, x)) == pytest.approx(special.betainc(a, b, x), rel=1e-13)
    # I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 − (1 − x)^b
    assert float(D.betainc(1.0, 1.0, 0.3)) == pytest.approx(0.3, rel=TIGHT)
    assert float(D.betainc(4.0, 1.0, 0.5)) == pytest.approx(1 / 16, rel=1e-14)
    assert float(D.betainc(1.0, 3.0, 0.5)) == pytest.approx(7 / 8, rel=1e-14)
    assert D.betainc(2.0, 3.0, 0.0) == 0.0 and D.betainc(2.0, 3.0, 1.0) == 1.0
    assert D.betainc(2.0, 3.0, -0.5) == 0.0 and D.betainc(2.0, 3.0, 1.5) == 1.0
    assert math.isnan(D.betainc(0.0, 3.0, 0.5)) and math.isnan(D.betainc(2.0, -1.0, 0.5))
    # a separately given 1 − x is used as is: x = 1e-20 with y = 1 − 1e-20 (not representable as 1 − x)
    assert float(D.betainc(2.0, 3.0, 0.5, 0.5)) == pytest.approx(special.betainc(2.0, 3.0, 0.5), rel=1e-14)
    assert np.shape(D.betainc(np.ones((2, 3)), 2.0, 0.5)) == (2, 3)


# ---- Student t ------------------------------------------------------------------------------------


def test_t_closed_forms():
    # df = 1 (Cauchy): F(x) = ½ + atan(x)/π; df = 2: F(x) = ½ + x / (2 √(x² + 2))
    for x in (-3.0, -0.5, 0.0, 0.7, 4.0):
        assert D.t_cdf(x, 1.0) == pytest.approx(0.5 + math.atan(x) / math.pi, rel=1e-14)
        assert D.t_cdf(x, 2.0) == pytest.approx(0.5 + x / (2 * math.sqrt(x * x + 2)), rel=1e-14)
        assert D.t_sf(x, 2.0) == pytest.approx(0.5 - x / (2 * math.sqrt(x * x + 2)), rel=1e-14)
    # quantiles: df = 1: tan(π (q − ½)); df = 2: (2q − 1) / √(2 q (1 − q))
    for q in (0.01, 0.2, 0.5, 0.8, 0.975):
        assert D.t_ppf(q, 1.0) == pytest.approx(math.tan(math.pi * (q - 0.5)), rel=1e-13, abs=1e-15)
        two = (2 * q - 1) / math.sqrt(2 * q * (1 - q))
        assert D.t_ppf(q, 2.0) == pytest.approx(two, rel=1e-13, abs=1e-15)
        assert D.t_isf(q, 2.0) == pytest.approx(-two, rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("df", [3.0, 4.5, 9.0, 30.0])
def test_t_quantiles_and_cdf_against_scipy_tightly(df):
    # the quantile by its definition, F(t_q) = q (scipy's own t.ppf is ~1e-12 off in F at df = 4.5)
    for q in (1e-8, 0.001, 0.025, 0.3, 0.5, 0.7, 0.975, 0.999):
        assert stats.t.cdf(D.t_ppf(q, df), df) == pytest.approx(q, rel=1e-14, abs=1e-16)
        assert D.t_isf(q, df) == -D.t_ppf(q, df)
    for x in (-30.0, -2.0, -0.1, 0.0, 0.1, 2.0, 30.0):
        assert D.t_cdf(x, df) == pytest.approx(stats.t.cdf(x, df), rel=1e-12)


def test_t_edges():
    for x, df in ((math.nan, 3.0), (1.0, 0.0), (1.0, -2.0)):
        assert math.isnan(D.t_cdf(x, df))
    assert D.t_cdf(math.inf, 3.0) == 1.0 and D.t_cdf(-math.inf, 3.0) == 0.0
    assert D.t_cdf(1.3, math.inf) == D.norm_cdf(1.3) and D.t_ppf(0.9, math.inf) == D.norm_ppf(0.9)
    assert D.t_ppf(0.0, 3.0) == -math.inf and D.t_ppf(1.0, 3.0) == math.inf
    for q, df in ((math.nan, 3.0), (-0.1, 3.0), (1.1, 3.0), (0.5, 0.0), (0.5, -1.0)):
        assert math.isnan(D.t_ppf(q, df))
    assert D.t_ppf(0.5, 7.0) == 0.0 and D._t_isf_tail(0.5, 7.0) == 0.0 and D._t_isf_tail(0.7, 7.0) == 0.0


# ---- binomial, hypergeometric, factorial tables ---------------------------------------------------


@pytest.mark.parametrize(("n", "p"), [(5, Fraction(1, 3)), (12, Fraction(1, 20)), (12, Fraction(19, 20)),
                                      (30, Fraction(1, 2)), (40, Fraction(1, 100)), (40, Fraction(97, 100))])
def test_binom_pmf_and_sf_by_counting(n, p):
    # every k, including k = 0 and k = n (their own branches for p, 1 − p below 0.1)
    for k in range(n + 1):
        pmf = binom_exact(k, n, p)
        assert D.binom_pmf(k, n, float(p)) == pytest.approx(float(pmf), rel=1e-13), k
        sf = sum(binom_exact(j, n, p) for j in range(k + 1, n + 1))
        assert D.binom_sf(k, n, float(p)) == pytest.approx(float(sf), rel=1e-12, abs=1e-300), k


def test_binom_outside_the_support_and_bad_rates():
    for k in (-1, 6, 2.5):
        assert D.binom_pmf(k, 5, 0.3) == 0.0
    assert D.binom_pmf(0, 5, 0.0) == 1.0 and D.binom_pmf(1, 5, 0.0) == 0.0
    assert D.binom_pmf(5, 5, 1.0) == 1.0 and D.binom_pmf(4, 5, 1.0) == 0.0
    assert D.binom_pmf(0, 0, 0.4) == 1.0 and D.binom_pmf(1, 0, 0.4) == 0.0
    for p in (-0.1, 1.1, math.nan):
        assert math.isnan(D.binom_pmf(2, 5, p)) and math.isnan(D.binom_sf(2, 5, p))
    assert math.isnan(D.binom_pmf(0, -1, 0.5))
    assert D.binom_sf(-1, 5, 0.3) == 1.0 and D.binom_sf(5, 5, 0.3) == 0.0 and D.binom_sf(7, 5, 0.3) == 0.0
    # k is floored: P(X > 2.7) = P(X > 2)
    assert D.binom_sf(2.7, 5, 0.3) == D.binom_sf(2, 5, 0.3)
    got = D.binom_pmf(np.array([0, 1, 2]), 2, np.array([0.5, 0.5, 0.5]))
    assert got.tolist() == pytest.approx([0.25, 0.5, 0.25], rel=TIGHT)


def test_bd0_on_both_sides_of_its_series_switch():
    # x log(x/m) + m − x: the series is used for |x − m| < 0.1 (x + m); check just inside, just outside
    x = np.array([10.0, 10.0, 10.0, 10.0, 0.0, 3.0])
    m = np.array([12.2, 12.23, 8.2, 8.17, 2.0, 3.0])
    with localcontext() as ctx:
        ctx.prec = 40
        want = [float(Decimal(xi) * (Decimal(xi) / Decimal(mi)).ln() + Decimal(mi) - Decimal(xi)) if xi > 0
                else mi for xi, mi in zip(x.tolist(), m.tolist(), strict=True)]
    assert D._bd0(x, m) == pytest.approx(want, rel=1e-14, abs=1e-300)


def test_stirlerr_table_and_series_meet_at_15_and_16():
    for n in (0, 1, 2, 15, 16, 17, 40):
        with localcontext() as ctx:
            ctx.prec = 40
            dn = Decimal(n)
            want = 0.0 if n == 0 else float(Decimal(factorial(n)).ln() - (dn + Decimal("0.5")) * dn.ln() + dn
                                            - (2 * Decimal(math.pi)).ln() / 2)
        assert float(D._stirlerr(np.asarray(float(n)))) == pytest.approx(want, rel=1e-13, abs=1e-300), n


def test_the_small_stirling_table_is_log_factorial_minus_stirling():
    # computed once at import from 40-digit decimals; here from lgamma in floats (~1e-14 relative)
    for k in range(1, 16):
        want = math.lgamma(k + 1) - (k + 0.5) * math.log(k) + k - 0.5 * math.log(2 * math.pi)
        assert D._stirlerr_exact(k) == pytest.approx(want, rel=1e-12), k
        assert D._STIRLERR_SMALL[k] == D._stirlerr_exact(k)
    assert D._STIRLERR_SMALL.size == 16 and D._STIRLERR_SMALL[0] == 0.0


def test_log_factorials_grow_and_stay_read_only():
    table = D.log_factorials(300)
    assert table.size >= 301 and not table.flags.writeable
    assert table[300] == pytest.approx(math.lgamma(301), rel=TIGHT) and table[0] == 0.0 and table[1] == 0.0
    bigger = D.log_factorials(table.size + 5)
    assert bigger.size >= 2 * table.size and bigger[:table.size].tolist() == table.tolist()
    assert bigger[-1] == pytest.approx(math.lgamma(bigger.size), rel=TIGHT)  # the new entries: log k!
    # asking for exactly the current size grows the table too: entry n must exist
    n = bigger.size
    assert D.log_factorials(n)[n] == pytest.approx(math.lgamma(n + 1), rel=TIGHT)


def test_hypergeom_pmf_by_counting():
    # 4 draws from 10 items with 3 successes: C(3, k) C(7, 4 − k) / C(10, 4)
    for k in range(-1, 6):
        want = comb(3, k) * comb(7, 4 - k) / comb(10, 4) if 0 <= k <= 3 else 0.0
        assert D.hypergeom_pmf(k, 10, 3, 4) == pytest.approx(want, rel=1e-13, abs=1e-300), k
    # support from max(0, N − (M − n)): 8 draws of 10 with 3 successes: at least 1
    assert D.hypergeom_pmf(0, 10, 3, 8) == 0.0
    assert D.hypergeom_pmf(1, 10, 3, 8) == pytest.approx(comb(3, 1) * comb(7, 7) / comb(10, 8), rel=1e-13)
    assert D.hypergeom_pmf(0, 0, 0, 0) == 1.0 and D.hypergeom_pmf(1, 0, 0, 0) == 0.0
    assert D.hypergeom_pmf(1.5, 10, 3, 4) == 0.0


# ---- exact tests ----------------------------------------------------------------------------------


def test_fisher_by_counting_and_degenerate_tables():
    # [[3, 1], [1, 3]]: margins 4, 4 by column, 4 of 8 in row 0; P(X <= 1) for X ~ Hyp(8, 4, 4)
    want = sum(comb(4, k) * comb(4, 4 - k) for k in (0, 1)) / comb(8, 4)
    assert D.fisher_exact_greater([[3, 1], [1, 3]]) == pytest.approx(want, rel=1e-13)
    # the lower end of the support: [[4, 3], [0, 1]]: row 0 holds 7 of 8, column 1 has 4: X >= 3
    want = comb(4, 3) * comb(4, 4) / comb(8, 7)
    assert D.fisher_exact_greater([[4, 3], [0, 1]]) == pytest.approx(want, rel=1e-13)
    for t in ([[0, 0], [3, 4]], [[3, 4], [0, 0]], [[0, 3], [0, 4]], [[3, 0], [4, 0]]):
        assert D.fisher_exact_greater(t) == 1.0
    # the whole support summed is 1 + 2.2e-16 in floats ([[0, 3], [1, 0]]: X <= 3 always): a p-value of 1
    assert D.fisher_exact_greater([[0, 3], [1, 0]]) == 1.0
    assert D.fisher_exact_greater([[0, 10], [1, 0]]) == 1.0
    with pytest.raises(ValueError, match="2 × 2"):
        D.fisher_exact_greater([[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match="non-negative"):
        D.boschloo_exact_greater([[1, -2], [3, 4]])


@pytest.mark.parametrize("table", [[[3, 0], [0, 3]], [[2, 1], [1, 2]], [[4, 1], [1, 5]], [[1, 0], [2, 3]],
                                   [[5, 2], [0, 3]], [[2, 2], [2, 2]], [[0, 3], [4, 1]], [[7, 3], [1, 6]],
                                   [[6, 6], [0, 0]], [[1, 1], [0, 3]]])
def test_boschloo_small_tables_against_scipy(table):
    assert D.boschloo_exact_greater(table) == pytest.approx(
        stats.boschloo_exact(table, alternative="greater").pvalue, rel=1e-9)


def test_golden_section_finds_the_maximum():
    # a kinked peak: the argument is found to the search's tolerance, not to √ε as on a smooth one
    theta, best = D._golden_max(lambda t: 2.0 - abs(t - 0.3), 0.0, 1.0)
    assert theta == pytest.approx(0.3, abs=2e-9) and best == pytest.approx(2.0, abs=2e-9)
    theta, best = D._golden_max(lambda t: 2.0 - abs(t - 0.9), 0.0, 1.0)  # near the upper end
    assert theta == pytest.approx(0.9, abs=2e-9) and best == pytest.approx(2.0, abs=2e-9)
    theta, best = D._golden_max(math.sin, 0.0, math.pi)  # smooth: the value to ε, the argument to ~√ε
    assert theta == pytest.approx(math.pi / 2, abs=1e-7) and best == pytest.approx(1.0, abs=1e-15)


def test_bernstein_rows_are_binomial_masses():
    # row θ: Binom(s; total, sin²θ) for s = 0..total, with the end points exact (π = 0 and π = 1)
    theta = np.array([0.0, math.pi / 6, math.pi / 4, math.pi / 3, math.pi / 2])
    rows = D._bernstein(4, theta)
    for row, p in zip(rows, (0.0, 0.25, 0.5, 0.75, 1.0), strict=True):
        want = [comb(4, s) * p**s * (1 - p) ** (4 - s) for s in range(5)]
        assert row.tolist() == pytest.approx(want, rel=1e-12, abs=1e-15)
    grid, basis = D._bernstein_grid(10)
    assert grid[0] == 0.0 and grid[-1] == math.pi / 2 and grid.size == 257 and basis.shape == (257, 11)
    assert D._bernstein_grid(400)[0].size == int(16 * math.pi * 20) + 1


# ---- multiple testing -----------------------------------------------------------------------------


def test_benjamini_hochberg_by_hand():
    # sorted p: 0.01, 0.02, 0.03, 0.5 (m = 4): p·m/rank = 0.04, 0.04, 0.04, 0.5; then running minimum
    # from the top; back in the input order
    p = np.array([0.5, 0.03, 0.01, 0.02])
    assert D.false_discovery_control(p).tolist() == pytest.approx([0.5, 0.04, 0.04, 0.04], rel=TIGHT)
    # a later smaller value caps an earlier one: 0.01, 0.04, 0.041 → 0.03, 0.06, 0.041 → 0.03, 0.041, 0.041
    assert D.false_discovery_control(np.array([0.041, 0.01, 0.04])).tolist() == pytest.approx(
        [0.041, 0.03, 0.041], rel=TIGHT)
    assert D.false_discovery_control(np.array([0.9, 0.95])).tolist() == pytest.approx([0.95, 0.95])
    one = np.array([0.3])
    assert D.false_discovery_control(one).tolist() == [0.3] and D.false_discovery_control(one) is not one
    assert D.false_discovery_control(np.array([])).size == 0
    with pytest.raises(ValueError, match="one-dimensional"):
        D.false_discovery_control(np.array([[0.1]]))
    for bad in (np.array([0.1, 1.5]), np.array([-0.1]), np.array([np.nan, 0.1])):
        with pytest.raises(ValueError, match="only numbers between 0 and 1"):
            D.false_discovery_control(bad)


def test_t_logpdf_against_scipy():
    for df in (1.0, 2.5, 9.0, 120.0):
        for t in (0.0, 0.7, -3.0, 25.0):
            assert D._t_logpdf(t, df) == pytest.approx(stats.t.logpdf(t, df), rel=1e-13)


def test_betainc_of_scalars_is_a_scalar():
    got = D.betainc(2.0, 3.0, 0.25)
    assert not isinstance(got, np.ndarray) and float(got) == pytest.approx(special.betainc(2, 3, 0.25))
    assert isinstance(D.betainc(np.array([2.0]), 3.0, 0.25), np.ndarray)


def test_golden_section_on_a_plateau_keeps_the_left_part():
    # equal values compare as "left is not worse": the search shrinks towards the lower end
    theta, best = D._golden_max(lambda t: 1.0, 0.0, 1.0)
    assert best == 1.0 and theta < 1e-8


# ---- tails, caps and edges worked out exactly (mutation testing of the full module) ------------------


def t_cdf_even_df(x: float, df: int) -> float:
    """Student t CDF for an even df by its finite closed form, in 360-digit decimals:
    F(x) = ½ + x / (2 √(df + x²)) Σ_{k < df/2} c_k r^k, with r = df / (df + x²), c_0 = 1 and
    c_k = c_{k−1} (2k − 1) / 2k.
    A tail value down to 1e-300 keeps ~60 correct digits after the cancellation against ½."""
    with localcontext() as ctx:
        ctx.prec = 360
        xd, nu = Decimal(x), Decimal(df)
        r, term, total = nu / (nu + xd * xd), Decimal(1), Decimal(0)
        for k in range(df // 2):
            if k:
                term = term * (2 * k - 1) / (2 * k) * r
            total += term
        return float(Decimal("0.5") + xd / (2 * (nu + xd * xd).sqrt()) * total)


def test_chi2_sf_rejects_what_it_cannot_compute_and_stays_a_probability():
    assert math.isnan(D.chi2_sf(math.nan, 3)) and math.isnan(D.chi2_sf(math.nan, 4))
    for df in (0, -2):
        assert math.isnan(D.chi2_sf(1.0, df)) and math.isnan(D.chi2_sf(0.0, df))
    assert D.chi2_sf(0.0, 3) == 1.0 and D.chi2_sf(-1.0, 2) == 1.0
    # near x = 0 the terms of the series add up to 1 + 1 ulp in floats for some df: capped at 1
    values = [D.chi2_sf(float(x), df) for df in range(1, 30) for x in np.geomspace(1e-12, 1.0, 400)]
    assert max(values) == 1.0 and min(values) > 0.0


def test_t_cdf_with_no_degrees_of_freedom_is_nan_even_at_zero():
    # df = 0 at x = 0 would divide 0 by 0
    assert math.isnan(D.t_cdf(0.0, 0.0)) and math.isnan(D.t_sf(0.0, 0.0))


@pytest.mark.parametrize("df", [4, 10, 30])
def test_t_cdf_and_quantiles_deep_in_the_tail_by_the_closed_form(df):
    # even df: F(x) is a finite sum; far tails and the quantiles there (down to 1e-300, where the bracket
    # search meets a survival function that underflows to 0), at 1e-13
    for x in (-1e4, -300.0, -40.0, -7.0, -2.5, -0.01, 0.4, 3.0, 25.0):
        assert D.t_cdf(x, df) == pytest.approx(t_cdf_even_df(x, df), rel=1e-13, abs=0), x
    for q in (1e-300, 1e-150, 1e-40, 1e-20, 1e-12, 1e-6, 0.01, 0.2, 0.45, 0.499):
        t = D.t_ppf(q, df)
        # F(t) ∝ t^-df far out: a relative error e in u = asinh(t) is df · u · e in F, and u ≈ 70 at 1e-300
        rel = 1e-13 if q >= 1e-40 else 1e-12
        assert t_cdf_even_df(t, df) == pytest.approx(q, rel=rel, abs=0), q
        assert D.t_isf(q, df) == -t


def test_the_incomplete_beta_at_the_symmetry_point_needs_many_steps():
    # I_½(a, a) = ½ exactly; at x = ½ = (a + 1)/(2a + 2) the continued fraction is at its slowest
    # (~½ √a steps), so a lower iteration cap or an early stop shows; both the scalar and the vector loop
    for a, rel in ((30.0, 1e-14), (1e4, 1e-12), (1e6, 1e-10)):
        assert float(D.betainc(a, a, 0.5)) == pytest.approx(0.5, rel=rel, abs=0)
        vector = D.betainc(np.full(6, a), np.full(6, a), np.full(6, 0.5))
        assert vector == pytest.approx(np.full(6, 0.5), rel=rel, abs=0)


def test_bernstein_rows_at_the_ends_are_exact():
    # at π = 0 and π = 1 the binomial masses are exactly 0 except one exact 1 (cos(π/2)² is not 0 in floats)
    rows = D._bernstein(6, np.array([0.0, math.pi / 2]))
    assert rows[0].tolist() == [1.0, 0, 0, 0, 0, 0, 0] and rows[1].tolist() == [0, 0, 0, 0, 0, 0, 1.0]


def test_binom_pmf_is_nan_for_a_rate_outside_0_1_on_every_branch():
    # the end masses have their own formulas (x = 0 for p < 0.1, x = n for 1 − p < 0.1) and n = 0 its
    # own shortcut: each of them would give a finite number for a rate just outside [0, 1]
    for k, n, p in ((0, 5, -0.1), (5, 5, 1.1), (5, 5, 1.5), (0, 0, math.nan), (0, 0, -0.2), (0, 0, 1.7),
                    (3, 5, math.nan)):
        assert math.isnan(D.binom_pmf(k, n, p)), (k, n, p)
    assert np.isnan(D.binom_pmf(np.array([0, 5]), 5, np.array([-0.1, 1.1]))).all()


def test_benjamini_hochberg_returns_floats_and_says_what_is_wrong():
    # like scipy: q-values are floats even for whole-number input of one element
    for p in (np.array([1]), np.array([0]), np.array([0, 1])):
        assert D.false_discovery_control(p).dtype == np.float64
    with pytest.raises(ValueError, match=r"^p must be one-dimensional$"):
        D.false_discovery_control(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"^p must include only numbers between 0 and 1$"):
        D.false_discovery_control(np.array([0.2, 1.01]))


def test_binom_mass_at_zero_for_a_tiny_rate_does_not_use_the_rounded_complement():
    # (1 − p)^n with 1 − p rounded to a double is off by n · 1e-16 in the log (1e-10 at n = 1e6); the
    # saddle-point form −bd0(n, nq) − np corrects it to first order: exact to 1e-14 against 50 digits
    for n, p in ((10**6, 1e-10), (10**6, 7e-9), (10**6, 1e-6), (10**8, 3e-11)):
        with localcontext() as ctx:
            ctx.prec = 50
            want = float((Decimal(n) * (1 - Decimal(p)).ln()).exp())
        assert D.binom_pmf(0, n, p) == pytest.approx(want, rel=1e-14, abs=0), (n, p)


def test_log_factorials_grow_past_twice_their_size_and_stay_read_only():
    # a request far beyond the current table (the shared table may have grown in earlier tests): the
    # new table reaches the request, every entry is log k!, and it is still read-only
    n = 2 * D.log_factorials(0).size + 37
    table = D.log_factorials(n)
    assert table.size >= n + 1 and not table.flags.writeable
    for k in (n, n - 1, table.size - 1, 2):
        assert table[k] == pytest.approx(math.lgamma(k + 1.0), rel=TIGHT, abs=0), k


def test_stirlerr_takes_the_exact_table_up_to_15():
    # the series is 4e-14 off at 15 (its truncation); the table entry is exact
    with localcontext() as ctx:
        ctx.prec = 50
        pi = Decimal("3.14159265358979323846264338327950288419716939937510")
        want = float(Decimal(factorial(15)).ln() - Decimal("15.5") * Decimal(15).ln() + 15
                     - (2 * pi).ln() / 2)
    assert float(D._stirlerr(np.asarray(15.0))) == pytest.approx(want, rel=2e-15, abs=0)


def test_bd0_near_equal_arguments_by_the_series():
    # x log(x/m) + m − x for x ≈ m cancels to a few digits (1.6e-5 relative at x = 1e6, m = x + 3): the series
    # keeps full precision; 50-digit decimals are the oracle
    for x, m in ((1000.0, 1000.5), (1e6, 1e6 + 3), (50.0, 49.0), (7.0, 7.6)):
        with localcontext() as ctx:
            ctx.prec = 50
            want = float(Decimal(x) * (Decimal(x) / Decimal(m)).ln() + Decimal(m) - Decimal(x))
        assert float(D._bd0(np.asarray(x), np.asarray(m))) == pytest.approx(want, rel=2e-15, abs=0), (x, m)


@pytest.mark.parametrize("table", [[[28, 12], [2, 1]], [[5, 4], [31, 10]]])
def test_boschloo_supremum_at_a_lower_grid_peak(table):
    # the p-value as a function of the common rate has two near-equal maxima; the higher one on the grid
    # refines to less than the other (0.5510243 vs 0.5510291 for the first table): every near-best grid
    # peak must be refined. scipy's optimiser finds the same supremum to ~1e-13.
    want = stats.boschloo_exact(table, alternative="greater").pvalue
    assert D.boschloo_exact_greater(table) == pytest.approx(want, rel=1e-12, abs=0)


def test_golden_section_returns_the_better_of_its_last_two_points():
    # the last bracket is at most tol wide (and more than g · tol), its interior points at fractions 1 − g
    # and g of it: at a maximum on an end, the nearer point is within (1 − g) tol = g² tol of it, the
    # farther one beyond; on a plateau ties go to the left point
    g, tol = (math.sqrt(5.0) - 1.0) / 2.0, 1e-9
    theta, best = D._golden_max(lambda t: -t, 0.0, 1.0)
    assert 0.0 < theta <= g * g * tol and best == -theta
    theta, best = D._golden_max(lambda t: t, 0.0, 1.0)
    assert 0.0 < 1.0 - theta <= g * g * tol and best == theta
    theta, best = D._golden_max(lambda t: 1.0, 0.0, 1.0)
    assert 0.0 < theta <= g * g * tol and best == 1.0


def test_betainc_with_a_zero_shape_parameter_is_nan_also_at_the_ends():
    # a, b > 0 is the domain: a = 0 at x = 0 and b = 0 at x = 1 are not 0 and 1, and b = 0 inside is nan too
    for a, b, x in ((0.0, 3.0, 0.0), (2.0, 0.0, 1.0), (2.0, 0.0, 0.5), (0.0, 0.0, 0.5)):
        assert math.isnan(D.betainc(a, b, x)), (a, b, x)
    # the other end stays defined by the positive parameter: I_1(0, 3) = 1, I_0(2, 0) = 0
    assert D.betainc(0.0, 3.0, 1.0) == 1.0 and D.betainc(2.0, 0.0, 0.0) == 0.0


def test_t_tail_for_many_degrees_of_freedom_takes_the_log_of_the_small_side():
    # P(T < −1) at df = 1000 and 10000: the incomplete beta runs on the side whose complement is
    # df/(df + t²) ≈ 1; its log must come from log1p of the small side, as the power df/2 multiplies any
    # rounding of it (log of the rounded complement is 1.8e-13 off at df = 10000)
    for df in (1000, 10000):
        assert D.t_cdf(-1.0, df) == pytest.approx(t_cdf_even_df(-1.0, df), rel=2e-14, abs=0), df


def test_a_malformed_table_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"^table must be 2 × 2$"):
        D.fisher_exact_greater([[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match=r"^table entries must be non-negative$"):
        D.boschloo_exact_greater([[1, -2], [3, 4]])
