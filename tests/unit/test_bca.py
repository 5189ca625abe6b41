"""BCa: jackknife shortcuts against brute force, agreement with scipy, coverage by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from kalibra_action.stats.bca import bca_mean_pct, bca_median_pct, loo_means, loo_medians


@pytest.mark.parametrize("n", [2, 3, 4, 7, 10])
def test_leave_one_out_medians_match_brute_force(n):
    x = np.sort(np.random.default_rng(n).lognormal(size=n))
    brute = [np.median(np.delete(x, i)) for i in range(n)]
    np.testing.assert_allclose(loo_medians(x), brute)


def test_leave_one_out_means_match_brute_force():
    x = np.random.default_rng(1).normal(size=9)
    np.testing.assert_allclose(loo_means(x), [np.mean(np.delete(x, i)) for i in range(9)])


def _boot(rng, x, r, fn):
    idx = rng.integers(0, x.size, size=(r, x.size))
    return fn(x[idx], axis=1)


def test_bca_mean_agrees_with_scipy_bootstrap():
    rng = np.random.default_rng(5)
    b, c = rng.lognormal(0, 0.6, 60), rng.lognormal(0.2, 0.6, 60)
    ours = bca_mean_pct(b, c, _boot(rng, b, 20_000, np.mean), _boot(rng, c, 20_000, np.mean))
    def pct(x, y, axis):
        return (np.mean(y, axis=axis) / np.mean(x, axis=axis) - 1) * 100

    ref = stats.bootstrap((b, c), pct, method="BCa", n_resamples=20_000, random_state=6,
                          vectorized=True).confidence_interval
    assert ours is not None
    width = ref.high - ref.low
    assert ours[0] == pytest.approx(ref.low, abs=0.06 * width)
    assert ours[1] == pytest.approx(ref.high, abs=0.06 * width)


def test_bca_median_covers_near_95_percent_for_lognormal_sigma_1():
    rng = np.random.default_rng(12)
    reps, hits = 300, 0
    for _ in range(reps):
        b, c = rng.lognormal(0, 1, 50), rng.lognormal(0, 1, 50)
        ci = bca_median_pct(b, c, _boot(rng, b, 2000, np.median), _boot(rng, c, 2000, np.median))
        assert ci is not None
        hits += ci[0] <= 0 <= ci[1]
    assert 0.91 <= hits / reps <= 0.98  # statistics.md: 95.0 % at 20,000 repetitions


def test_bca_is_undefined_for_a_zero_baseline_or_tiny_samples():
    z = np.zeros(10)
    assert bca_median_pct(z, z + 1, z, z + 1) is None
    assert bca_mean_pct(np.ones(2), np.ones(2), np.ones(5), np.ones(5)) is None


# --- values near overflow (issue 8, finding 6) ---

def test_issue_values_give_a_finite_interval_instead_of_a_range_error():
    from kalibra_action.stats.bootstrap import bootstrap_pct

    for stat in ("median", "mean"):
        boot = bootstrap_pct(np.array([1.0, 2, 3]), np.array([1e300, 1e300, 5]), stat, resamples=2000)
        assert boot is not None
        for lo, hi in filter(None, (boot.ci, boot.bca)):
            assert np.isfinite([lo, hi]).all() and lo <= hi


def test_acceleration_is_scale_free_and_survives_huge_values():
    from kalibra_action.stats.bca import acceleration

    rng = np.random.default_rng(3)
    groups = [rng.lognormal(size=7), rng.lognormal(size=9) + 2]
    small = acceleration(groups)
    huge = acceleration([g * 1e300 for g in groups])  # cubes of ~1e300 overflow without scaling
    assert small is not None and huge == pytest.approx(small, rel=1e-9)


def test_non_finite_pieces_fall_back_with_a_note():
    from kalibra_action.stats.bca import NOT_FINITE, bca_bounds

    reps = np.linspace(-1, 1, 101)
    for accel, estimate in ((float("nan"), 0.1), (float("inf"), 0.1), (0.01, float("inf"))):
        notes: list[str] = []
        assert bca_bounds(reps, estimate, accel, notes=notes) is None
        assert notes == [NOT_FINITE]


def test_medians_of_denormals_and_of_values_near_the_float_limit():
    from kalibra_action.stats.bca import loo_medians
    from kalibra_action.stats.bootstrap import median

    assert median(np.array([5e-324, 5e-324])) == 5e-324  # not flushed to 0 by halving first
    assert median(np.array([1.7e308, 1.7e308])) == 1.7e308
    assert np.isfinite(loo_medians(np.array([-1.7e308, 1.7e308, 1.7e308]))).all()


def test_the_bootstrap_reports_why_it_fell_back_to_the_percentile_interval():
    """A % change beyond the float range (1e300 over a denormal) has no BCa: None, and the note says so."""
    from kalibra_action.stats import bootstrap as stats
    from kalibra_action.stats.bca import NOT_FINITE

    reps = np.linspace(1.0, 2.0, 50)
    interval, note = stats._bca(np.full(3, 5e-324), np.full(3, 1e300), reps, reps + 1, "median", 0.05)
    assert interval is None and note == NOT_FINITE
    interval, note = stats._bca(np.array([1.0, 2, 3]), np.array([2.0, 3, 4]), reps, reps + 0.5, "mean", 0.05)
    assert interval is not None and note is None
