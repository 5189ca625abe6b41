"""Unit tests of kalibra_action.stats: helpers, z-test, and the fast bootstrap vs brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kalibra_action.stats import bootstrap as S


def brute(b: np.ndarray, c: np.ndarray, stat: str, r: int = 20_000, seed: int = 3) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    f = np.median if stat == "median" else np.mean
    mb = f(b[rng.integers(0, b.size, (r, b.size))], axis=1)
    mc = f(c[rng.integers(0, c.size, (r, c.size))], axis=1)
    d = np.sort((mc - mb) / mb * 100)
    return float(d[int(r * 0.025)]), float(d[int(r * 0.975)])


def test_pct_delta_rules() -> None:
    assert S.pct_delta(0, 0) == 0.0
    assert S.pct_delta(0, 1) is None
    assert S.pct_delta(2, 3) == 50.0
    assert S.pct_delta(3, 4) == 33.3
    assert S.pct_delta(-1e308, 1e308) == -200.0  # the difference overflows, the ratio does not
    assert S.pct_delta(1e300, 1.5e300) == 50.0
    assert S.pct_delta(5e-324, 1e300) is None  # too large for a float → None, never inf


def test_median_mean_total_edge_cases() -> None:
    empty = np.zeros(0)
    assert S.median(empty) == 0.0 and S.mean(empty) == 0.0 and S.median(empty, None) is None
    assert S.median(np.array([1.0, 2.0, 10.0, 4.0])) == 3.0
    huge = np.array([1e308, 1e308])
    assert S.median(huge) == 1e308 and S.mean(huge) == 1e308
    assert S.total(huge) is None


def test_two_proportion_z_matches_scipy() -> None:
    from scipy.stats import norm
    z, p = S.two_proportion_z(100, 70, 120, 60)
    pool = 130 / 220
    zz = (0.5 - 0.7) / math.sqrt(pool * (1 - pool) * (1 / 100 + 1 / 120))
    assert z == round(zz, 4) and p == pytest.approx(2 * norm.sf(abs(zz)), abs=1e-6)
    assert S.two_proportion_z(0, 0, 5, 1) == (0.0, 1.0)
    assert S.two_proportion_z(10, 10, 10, 10) == (0.0, 1.0)


def test_mde_from_ci_and_one_implementation_of_the_proportion_intervals() -> None:
    assert S.mde_from_ci((-1.96, 1.96)) == pytest.approx(2.80, rel=1e-3)
    assert S.mde_from_ci(None) is None
    for dup in ("wilson", "newcombe_pp", "paired_t_pp"):  # they live in kalibra_action.stats.intervals
        assert not hasattr(S, dup)


@pytest.mark.parametrize("n", [7, 200, 201, 398, 400, 998, 1001])
def test_median_ci_matches_brute_force(n: int) -> None:
    rng = np.random.default_rng(n)
    b, c = rng.lognormal(0, 1, n), rng.lognormal(0.2, 1, n + 1)
    got = S.bootstrap_pct(b, c, "median", seed=1).ci
    ref = brute(b, c, "median")
    width = ref[1] - ref[0]
    assert abs(got[0] - ref[0]) < 0.08 * width + 0.2 and abs(got[1] - ref[1]) < 0.08 * width + 0.2, (got, ref)


@pytest.mark.parametrize("n", [100, 499, 500, 1500])
def test_mean_ci_matches_brute_force(n: int) -> None:
    rng = np.random.default_rng(n)
    b, c = rng.lognormal(0, 0.8, n), rng.lognormal(0.1, 0.8, n)
    got = S.bootstrap_pct(b, c, "mean", seed=1).ci
    ref = brute(b, c, "mean")
    width = ref[1] - ref[0]
    assert abs(got[0] - ref[0]) < 0.1 * width and abs(got[1] - ref[1]) < 0.1 * width, (got, ref)


@pytest.mark.parametrize("n", [400, 1000, 5000])
def test_even_n_coupling_agrees_with_plain_resampling(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Comonotone coupling of the two middle order statistics vs real resampling (same data)."""
    rng = np.random.default_rng(n)
    x = np.round(rng.lognormal(0, 1, n), 2)  # ties as in real data
    r = 10_000
    coupled = S._median_exact(x, r, np.random.default_rng(1))
    plain = S._median_plain(x, r, np.random.default_rng(2))
    grid = np.union1d(coupled, plain)
    ks = np.abs(np.searchsorted(np.sort(coupled), grid, "right") - np.searchsorted(
        np.sort(plain), grid, "right")).max() / r
    assert ks < 0.025  # two-sample KS distance within Monte-Carlo error (95 %: 0.019)
    assert coupled.std() == pytest.approx(plain.std(), rel=0.05)


def test_odd_n_exact_distribution_on_tiny_sample() -> None:
    """n = 3: P(median* = x_(1)) = P(Bin(3, 1/3) >= 2) = 7/27."""
    x = np.array([1.0, 2.0, 3.0])
    m = S._median_exact(x, 200_000, np.random.default_rng(0))
    assert np.mean(m == 1.0) == pytest.approx(7 / 27, abs=0.005)
    assert np.mean(m == 3.0) == pytest.approx(7 / 27, abs=0.005)


def test_coverage_with_no_change() -> None:
    rng = np.random.default_rng(11)
    covered = sum(
        (ci := S.bootstrap_pct(rng.lognormal(0, 1, 61), rng.lognormal(0, 1, 61), resamples=2000,
                               seed=i).ci)[0] <= 0 <= ci[1]
        for i in range(300))
    assert 0.90 <= covered / 300 <= 0.99


def test_detects_a_real_shift() -> None:
    rng = np.random.default_rng(5)
    ci = S.bootstrap_pct(rng.lognormal(0, 0.5, 3000), rng.lognormal(0.3, 0.5, 3001)).ci
    assert 25 < ci[0] < 35 < ci[1] < 45  # true change e^0.3 - 1 = 35 %


def test_seeded_and_deterministic() -> None:
    rng = np.random.default_rng(2)
    b, c = rng.random(300), rng.random(300)
    assert S.bootstrap_pct(b, c, seed=4) == S.bootstrap_pct(b, c, seed=4)


@pytest.mark.parametrize("stat", ["median", "mean"])
def test_edge_cases_give_none_not_inf(stat: str) -> None:
    one, two = np.array([1.0]), np.array([1.0, 2.0])
    assert S.bootstrap_pct(one, two, stat) is None
    assert S.bootstrap_pct(np.full(10, 5.0), np.full(10, 5.0), stat).ci == (0.0, 0.0)
    assert S.bootstrap_pct(np.zeros(10), np.zeros(10), stat).ci == (0.0, 0.0)
    assert S.bootstrap_pct(np.zeros(10), np.ones(10), stat) is None  # all resamples undefined
    huge = S.bootstrap_pct(np.array([1e308, 1e308, 1e308]), np.array([-1e308, 1e308, 1e308]), stat)
    assert huge is None or all(math.isfinite(v) for v in huge.ci)


def test_too_many_undefined_resamples_gives_none() -> None:
    b = np.array([0.0] * 6 + [1.0] * 5)  # median* = 0 in ~37 % of resamples
    assert S.bootstrap_pct(b, np.ones(11), "median") is None
    b = np.array([0.0] * 3 + [1.0] * 8)  # rarely 0: CI exists
    assert S.bootstrap_pct(b, np.ones(11), "median") is not None


def test_large_n_never_materialises_the_resamples() -> None:
    import tracemalloc
    rng = np.random.default_rng(0)
    b, c = rng.lognormal(0, 1, 1_000_000), rng.lognormal(0.01, 1, 1_000_000)
    tracemalloc.start()
    try:
        res = S.bootstrap_pct(b, c, "median", resamples=10_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 150e6  # a 1M × 10k index matrix would be 40 GB; copies of the inputs are 16 MB each
    assert res.ci[0] < 1.0 < res.ci[1] < 2.5


def test_bca_from_the_same_replicates_and_percentile_kept() -> None:
    rng = np.random.default_rng(6)
    b, c = rng.lognormal(0, 1, 60), rng.lognormal(0.3, 1, 61)
    res = S.bootstrap_pct(b, c, "median", seed=2)
    assert res.bca is not None and res.method == "bca" and res.gate_ci == res.bca
    assert res.ci == S.bootstrap_pct(b, c, "median", seed=2, bca=False).ci  # percentile unchanged
    assert S.bootstrap_pct(b, c, "median", seed=2, bca=False).bca is None
    assert abs(res.bca[0] - res.ci[0]) < 0.5 * (res.ci[1] - res.ci[0])
    assert res.mde == S.mde_from_ci(res.bca)
    tiny = S.bootstrap_pct(np.array([1.0, 2.0]), np.array([1.0, 3.0]), "mean")
    assert tiny.bca is None and tiny.method == "percentile" and tiny.gate_ci == tiny.ci
    flat = S.bootstrap_pct(np.full(10, 5.0), np.full(10, 5.0), "median")
    assert flat.gate_ci == (0.0, 0.0)


# ── Small helpers at their boundaries (docs/mutation.md) ──


@pytest.mark.parametrize(("ci", "out"), [
    (None, None), ((0.0, 5.0), False), ((-5.0, 0.0), False), ((-1.0, 1.0), False),
    ((0.1, 5.0), True), ((-5.0, -0.1), True),
])
def test_excludes_zero_counts_a_bound_on_zero_as_including_it(ci, out):
    assert S.excludes_zero(ci) is out


def test_finite_total_and_defaults():
    assert S.finite(None) is None and S.finite(float("nan")) is None and S.finite(-math.inf) is None
    assert S.finite(np.float32(2.5)) == 2.5 and isinstance(S.finite(np.int64(3)), float)
    assert S.total(np.zeros(0)) == 0.0 and S.total(np.array([1.0, 2.5])) == 3.5
    assert S.mean(np.zeros(0), 7.0) == 7.0 and S.median(np.zeros(0), 7.0) == 7.0
    assert S.median(np.array([3.0, 1.0, 2.0])) == 2.0 and S.mean(np.array([1.0, 2.0, 6.0])) == 3.0
    assert S.median(np.array([5.0, 1.0])) == 3.0


def test_pct_delta_rounds_to_one_decimal_both_ways():
    assert S.pct_delta(3, 2) == -33.3 and S.pct_delta(-2, -3) == 50.0 and S.pct_delta(8, 9) == 12.5


def test_two_proportion_z_sign_and_rounding():
    z, p = S.two_proportion_z(10, 2, 10, 8)  # pool 1/2, se = √(1/4 · 2/10) = √0.05
    zz = 0.6 / math.sqrt(0.05)
    assert z == round(zz, 4) and p == round(math.erfc(zz / math.sqrt(2)), 6)
    assert S.two_proportion_z(10, 8, 10, 2)[0] == -z


def test_bootstrap_needs_two_values_a_side_and_one_resample():
    two = np.array([1.0, 2.0])
    assert S.bootstrap_pct(np.array([1.0]), two) is None and S.bootstrap_pct(two, np.array([1.0])) is None
    assert S.bootstrap_pct(two, two, resamples=0) is None
    one = S.bootstrap_pct(two, two * 2, resamples=1)
    assert one is not None and one.resamples == 1


def test_bootstrap_properties():
    b = S.Bootstrap((-1.0, 3.0), 2, 100, bca=(-0.5, 2.5))
    assert (b.gate_ci, b.method, b.mde) == ((-0.5, 2.5), "bca", S.mde_from_ci((-0.5, 2.5)))
    p = S.Bootstrap((-1.0, 3.0), 0, 100)
    assert (p.gate_ci, p.method, p.mde) == ((-1.0, 3.0), "percentile", S.mde_from_ci((-1.0, 3.0)))
