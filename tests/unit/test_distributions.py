"""kalibra_action.stats.distributions against scipy (the dev-only oracle): edge cases, seeded inputs."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import special, stats

from kalibra_action.stats import distributions as D

DFS = (1, 2, 3, 5, 9, 24, 100, 1000)
Q_GRID = (1e-10, 1e-8, 1e-6, 1e-4, 1e-3, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.45, 0.49, 0.5,
          0.51, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999, 1 - 1e-4, 1 - 1e-6, 1 - 1e-8, 1 - 1e-10)
SIDES = (1, 2, 3, 5, 10)


def close(actual: object, expected: object, rtol: float = 1e-9) -> None:
    """Relative comparison; values below 1e-280 (the underflow range) count as equal to zero."""
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), rtol=rtol, atol=1e-280)


def all_tables(n1: int, n2: int) -> list[list[list[int]]]:
    return [[[x1, x2], [n1 - x1, n2 - x2]] for x1 in range(n1 + 1) for x2 in range(n2 + 1)]


def random_tables(count: int, max_n: int, seed: int) -> list[list[list[int]]]:
    """Tables up to max_n a side, rates drawn so that small p-values are common."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        n1, n2 = (int(v) for v in rng.integers(1, max_n + 1, 2))
        p1 = rng.uniform()
        p2 = max(0.0, p1 - rng.uniform(0, 0.5))
        x1, x2 = int(rng.binomial(n1, p1)), int(rng.binomial(n2, p2))
        out.append([[x1, x2], [n1 - x1, n2 - x2]])
    return out


# ---------------------------------------------------------------- normal


def test_norm_cdf_sf_match_scipy_including_tails() -> None:
    xs = [-38.0, -20.0, -8.0, -3.0, -1.0, -1e-9, 0.0, 1e-9, 0.5, 1.96, 5.0, 8.0, 20.0, 38.0]
    xs += list(np.random.default_rng(0).normal(0, 3, 200))
    for x in xs:
        close(D.norm_cdf(x), stats.norm.cdf(x), 1e-12)
        close(D.norm_sf(x), stats.norm.sf(x), 1e-12)
        assert isinstance(D.norm_cdf(x), float)


def test_norm_ppf_isf_match_scipy() -> None:
    qs = [1e-300, 1e-100, 1e-20, *Q_GRID, 1 - 1e-16]
    qs += list(np.random.default_rng(1).uniform(0, 1, 200))
    for q in qs:
        close(D.norm_ppf(q), stats.norm.ppf(q), 1e-12)
        close(D.norm_isf(q), stats.norm.isf(q), 1e-12)
    assert D.norm_ppf(0.5) == 0.0
    assert D.norm_ppf(0.0) == -math.inf and D.norm_ppf(1.0) == math.inf
    assert D.norm_isf(0.0) == math.inf and D.norm_isf(1.0) == -math.inf
    assert math.isnan(D.norm_ppf(-0.1)) and math.isnan(D.norm_ppf(1.5)) and math.isnan(D.norm_ppf(math.nan))


# ---------------------------------------------------------------- Student t


@pytest.mark.parametrize("df", DFS)
def test_t_ppf_isf_match_scipy(df: int) -> None:
    for q in Q_GRID:
        expected = stats.t.ppf(q, df)
        got = D.t_ppf(q, df)
        if q == 0.5:
            assert abs(got) < 1e-15
            continue
        # scipy's stdtrit is itself only ~1e-11 accurate; the round trip below is the tight check
        close(got, expected, 1e-10)
        close(D.t_isf(q, df), stats.t.isf(q, df), 1e-10)
        tail = stats.t.cdf(got, df) if q < 0.5 else stats.t.sf(got, df)
        close(tail, min(q, 1 - q), 1e-12)


def test_t_ppf_non_integer_df_and_edges() -> None:
    for df in (1.5, 2.5, 7.3, 30.5):
        for q in (1e-9, 0.05, 0.3, 0.8, 0.999):
            close(D.t_ppf(q, df), stats.t.ppf(q, df), 1e-10)
    assert D.t_ppf(0.0, 5) == -math.inf and D.t_ppf(1.0, 5) == math.inf
    assert D.t_isf(0.0, 5) == math.inf
    assert math.isnan(D.t_ppf(1.2, 5)) and math.isnan(D.t_ppf(0.5, 0)) and math.isnan(D.t_ppf(math.nan, 3))
    assert D.t_ppf(0.975, math.inf) == D.norm_ppf(0.975)
    assert isinstance(D.t_isf(0.025, 9), float)


def test_t_cdf_matches_closed_forms_for_one_and_two_degrees_of_freedom() -> None:
    # scipy 1.17's t.cdf is off by ~1.5e-9 at x = 1e-8, df = 1; the closed forms are exact
    def cauchy_cdf(x: float) -> float:  # written without cancellation in the left tail
        return math.atan(1 / -x) / math.pi if x < 0 else 0.5 + math.atan(x) / math.pi

    def t2_cdf(x: float) -> float:
        r = math.sqrt(2 + x * x)
        return 1 / (r * (r - x)) if x < 0 else 0.5 + x / (2 * r)

    for x in [-1e10, -3.0, -1e-8, 0.0, 1e-8, 1e-5, 0.1, 2.5, 1e5]:
        close(D.t_cdf(x, 1), cauchy_cdf(x), 1e-12)
        close(D.t_cdf(x, 2), t2_cdf(x), 1e-12)


@pytest.mark.parametrize("df", DFS)
def test_t_cdf_matches_scipy(df: int) -> None:
    xs = [-1e10, -1e5, -100.0, -10.0, -3.0, -1.0, -0.1, 0.0, 0.1, 1.0, 3.0, 10.0, 100.0, 1e5]
    xs += list(np.random.default_rng(df).normal(0, 4, 40))
    for x in xs:
        close(D.t_cdf(x, df), stats.t.cdf(x, df), 1e-12)
        close(D.t_sf(x, df), stats.t.sf(x, df), 1e-12)
    assert D.t_cdf(math.inf, df) == 1.0 and D.t_cdf(-math.inf, df) == 0.0
    assert math.isnan(D.t_cdf(math.nan, df))


def test_betainc_matches_scipy() -> None:
    rng = np.random.default_rng(2)
    a, b, x = rng.uniform(0.05, 300, 5000), rng.uniform(0.05, 300, 5000), rng.uniform(0, 1, 5000)
    close(D.betainc(a, b, x), special.betainc(a, b, x), 1e-11)
    a, b = rng.integers(1, 50_000, 500).astype(float), rng.integers(1, 50_000, 500).astype(float)
    x = rng.beta(a, b)  # near the mean, where the continued fraction is slowest
    close(D.betainc(a, b, x), special.betainc(a, b, x), 1e-9)
    close(D.betainc(2.0, 3.0, [0.0, 1.0]), [0.0, 1.0])
    close(D.betainc(0.5, 4.0, 0.3), special.betainc(0.5, 4.0, 0.3), 1e-13)  # scalar path


# ---------------------------------------------------------------- binomial / hypergeometric


def test_log_factorials_cached_and_growing() -> None:
    small = D.log_factorials(10)
    close(small[:11], special.gammaln(np.arange(11) + 1.0), 1e-14)
    big = D.log_factorials(5000)
    assert big.size >= 5001
    close(big[:5001], special.gammaln(np.arange(5001) + 1.0), 1e-14)
    assert D.log_factorials(20) is big  # served from the cache
    assert not big.flags.writeable


@pytest.mark.parametrize("n", [0, 1, 2, 7, 30, 150, 1000, 10_000])
def test_binom_pmf_sf_match_scipy(n: int) -> None:
    k = np.arange(-2, n + 3)
    for p in (0.0, 1e-12, 1e-3, 0.1, 0.3, 0.5, 0.77, 0.999, 1.0):
        pmf = D.binom_pmf(k, n, p)
        close(pmf, stats.binom.pmf(k, n, p), 1e-9)
        assert abs(pmf.sum() - 1.0) < 1e-12
        close(D.binom_sf(k, n, p), stats.binom.sf(k, n, p), 1e-9)
    assert D.binom_pmf(n, n, 1.0) == 1.0 and D.binom_pmf(0, n, 0.0) == 1.0  # exact at p in {0, 1}
    assert isinstance(D.binom_pmf(0, n, 0.3), float) and isinstance(D.binom_sf(0, n, 0.3), float)


def test_binom_broadcasts_over_k_and_p() -> None:
    pi = np.sin(np.linspace(0, np.pi / 2, 33)) ** 2
    k = np.arange(41)[None, :]
    close(D.binom_pmf(k, 40, pi[:, None]), stats.binom.pmf(k, 40, pi[:, None]), 1e-9)
    close(D.binom_sf(k, 40, pi[:, None]), stats.binom.sf(k, 40, pi[:, None]), 1e-9)
    # P(Bin(n, p) >= k) == betainc(k, n - k + 1, p), the order-statistic CDF of the median bootstrap
    p = np.arange(1, 301) / 300
    close(D.binom_sf(149, 300, p), special.betainc(150, 151, p), 1e-9)


def test_binom_random_inputs() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(1, 3000))
        k, p = rng.integers(0, n + 1, 5), rng.uniform(0, 1, 5)
        close(D.binom_pmf(k, n, p), stats.binom.pmf(k, n, p), 1e-9)
        close(D.binom_sf(k, n, p), stats.binom.sf(k, n, p), 1e-9)


@pytest.mark.parametrize("M,n,N", [(1, 1, 1), (10, 3, 4), (20, 10, 10), (50, 0, 5), (50, 50, 5), (7, 3, 0),
                                   (7, 3, 7), (300, 150, 120), (301, 17, 250), (3000, 1400, 1100)])
def test_hypergeom_pmf_matches_scipy(M: int, n: int, N: int) -> None:
    k = np.arange(-2, N + 3)
    pmf = D.hypergeom_pmf(k, M, n, N)
    close(pmf, stats.hypergeom.pmf(k, M, n, N), 1e-9)
    assert abs(pmf.sum() - 1.0) < 1e-12
    assert isinstance(D.hypergeom_pmf(min(n, N), M, n, N), float)


# ---------------------------------------------------------------- Fisher / Boschloo


def test_fisher_exhaustive_small_tables() -> None:
    for n1, n2 in itertools.product(SIDES, SIDES):
        for t in all_tables(n1, n2):
            close(D.fisher_exact_greater(t), stats.fisher_exact(t, alternative="greater").pvalue, 1e-9)


def test_fisher_random_and_large_tables() -> None:
    tables = random_tables(300, 100, seed=4) + random_tables(100, 5000, seed=5)
    for t in tables:
        close(D.fisher_exact_greater(t), stats.fisher_exact(t, alternative="greater").pvalue, 1e-9)


def test_fisher_degenerate_tables() -> None:
    for t in ([[0, 0], [0, 0]], [[0, 0], [3, 4]], [[3, 4], [0, 0]], [[0, 2], [0, 5]], [[2, 0], [5, 0]]):
        assert D.fisher_exact_greater(t) == stats.fisher_exact(t, alternative="greater").pvalue == 1.0
    with pytest.raises(ValueError):
        D.fisher_exact_greater([[1, 2], [3, -1]])
    with pytest.raises(ValueError):
        D.fisher_exact_greater([[1, 2, 3], [3, 1, 1]])


@pytest.mark.slow  # ~5 s, nearly all of it in scipy's boschloo_exact (676 tables)
def test_boschloo_exhaustive_small_tables() -> None:
    worst = 0.0
    for n1, n2 in itertools.product(SIDES, SIDES):
        for t in all_tables(n1, n2):
            got = D.boschloo_exact_greater(t)
            expected = stats.boschloo_exact(t, alternative="greater").pvalue
            worst = max(worst, abs(got - expected) / expected)
            assert got == pytest.approx(expected, rel=1e-6), t
    assert worst < 1e-6


def test_boschloo_random_tables_up_to_100_a_side() -> None:
    edge = [[[100, 97], [0, 3]], [[60, 40], [40, 60]], [[1, 0], [99, 100]]]
    for t in [*random_tables(16, 100, seed=6), *edge]:
        expected = stats.boschloo_exact(t, alternative="greater").pvalue
        assert D.boschloo_exact_greater(t) == pytest.approx(expected, rel=1e-6), t


def test_boschloo_degenerate_tables() -> None:
    for t in ([[3, 4], [0, 0]], [[0, 0], [3, 4]], [[5, 0], [0, 5]], [[0, 5], [5, 0]]):  # all pass / all fail
        expected = stats.boschloo_exact(t, alternative="greater").pvalue
        assert D.boschloo_exact_greater(t) == pytest.approx(expected, rel=1e-9)
    # an empty column: scipy gives nan; here 1.0 (no evidence), like fisher_exact
    for t in ([[0, 2], [0, 3]], [[2, 0], [3, 0]], [[0, 0], [0, 0]]):
        assert math.isnan(stats.boschloo_exact(t, alternative="greater").pvalue)
        assert D.boschloo_exact_greater(t) == 1.0
    with pytest.raises(ValueError):
        D.boschloo_exact_greater([[-1, 2], [3, 1]])


def test_boschloo_at_most_fisher() -> None:
    for t in random_tables(40, 150, seed=7):
        assert D.boschloo_exact_greater(t) <= D.fisher_exact_greater(t) * (1 + 1e-9)


# ---------------------------------------------------------------- Benjamini–Hochberg


def test_false_discovery_control_matches_scipy() -> None:
    rng = np.random.default_rng(8)
    for size in (2, 3, 10, 57, 400):
        p = rng.uniform(0, 1, size) ** 3
        p[rng.integers(0, size, size // 3)] = 1.0
        p[: size // 4] = np.round(p[: size // 4], 1)  # ties
        close(D.false_discovery_control(p), stats.false_discovery_control(p, method="bh"), 1e-12)
    for p in ([0.0, 0.0, 1.0], [1.0, 1.0], [0.01, 0.04, 0.04, 0.04, 0.2], [0.05, 0.01]):
        close(D.false_discovery_control(np.array(p)), stats.false_discovery_control(p, method="bh"), 1e-12)
    assert D.false_discovery_control(np.array([0.3])).tolist() == [0.3]
    assert D.false_discovery_control(np.array([])).size == 0
    with pytest.raises(ValueError):
        D.false_discovery_control(np.array([0.1, 1.2]))
    with pytest.raises(ValueError):
        D.false_discovery_control(np.array([0.1, math.nan]))


def test_chi2_sf_matches_scipy_for_whole_degrees_of_freedom():
    for df in range(1, 25):
        for x in (0.0, 0.01, 0.7, 3.0, 19.5, 80.0, 700.0):
            assert D.chi2_sf(x, df) == pytest.approx(stats.chi2.sf(x, df), rel=1e-12, abs=1e-300)
