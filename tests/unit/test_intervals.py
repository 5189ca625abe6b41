"""Success-rate intervals: Wilson, Newcombe, pooled, task-weighted — coverage and width by simulation."""

from __future__ import annotations

import numpy as np
import pytest

from kalibra_action.stats.intervals import (
    newcombe,
    paired_tasks,
    pooled_interval,
    task_weighted_interval,
    wilson,
)


def test_wilson_matches_the_textbook_example():
    lo, hi = wilson(81, 263)  # Newcombe 1998, example: 0.2553 to 0.3662
    assert lo == pytest.approx(0.2553, abs=1e-4)
    assert hi == pytest.approx(0.3662, abs=1e-4)


def test_newcombe_matches_the_published_example():
    # Newcombe 1998 (method 10): 56/70 vs 48/80 → difference 0.2, CI 0.0524 to 0.3339
    r = newcombe(48, 80, 56, 70)
    assert r.delta_pp == pytest.approx(20.0)
    assert r.lo == pytest.approx(5.24, abs=0.01)
    assert r.hi == pytest.approx(33.39, abs=0.01)


def _bimodal_rates():
    return np.concatenate([np.linspace(0.02, 0.15, 10), np.linspace(0.85, 0.99, 15)])


def test_paired_interval_covers_and_is_narrower_than_unpaired_on_bimodal_tasks():
    rng = np.random.default_rng(3)
    p = _bimodal_rates()
    runs = 5
    covered, widths_paired, widths_newcombe = 0, [], []
    reps = 400
    for _ in range(reps):
        bk, ck = rng.binomial(runs, p), rng.binomial(runs, p)
        n = np.full(25, runs)
        r = task_weighted_interval(bk, n, ck, n)
        assert r is not None and r.method == "paired-tasks"
        covered += r.lo <= 0 <= r.hi
        widths_paired.append(r.hi - r.lo)
        n = newcombe(int(bk.sum()), 25 * runs, int(ck.sum()), 25 * runs)
        widths_newcombe.append(n.hi - n.lo)
    assert 0.92 <= covered / reps <= 0.99
    assert np.mean(widths_paired) <= 15.5  # statistics.md: 13.9 pp
    assert np.mean(widths_paired) < 0.75 * np.mean(widths_newcombe)


def test_pooled_interval_falls_back_to_newcombe_for_few_or_unmatched_tasks():
    k, n = np.array([3, 3, 3]), np.array([5, 5, 5])
    r = pooled_interval(k, n, np.array([2, 3, 3]), n, tasks_match=True)
    assert r is not None and r.method == "newcombe" and (r.lo, r.hi) == (newcombe(9, 15, 8, 15).lo,
                                                                          newcombe(9, 15, 8, 15).hi)
    k12, n12 = np.full(12, 1), np.full(12, 1)
    r = pooled_interval(k12, n12, k12, n12, tasks_match=False)
    assert r is not None and r.method == "newcombe"
    assert pooled_interval(np.zeros(2), np.zeros(2), np.ones(2), np.full(2, 2), tasks_match=True) is None


def test_paired_mde_is_2_8_standard_errors():
    b = np.linspace(0.2, 0.9, 20)
    c = b + np.linspace(-0.1, 0.1, 20)
    r = paired_tasks(b, c)
    se = np.std((c - b) * 100, ddof=1) / np.sqrt(20)
    assert r.mde == pytest.approx(2.8 * se, abs=0.01)


def test_mde_factor_is_z_975_plus_z_80():
    from statistics import NormalDist

    from kalibra_action.stats.intervals import MDE_FACTOR

    z = NormalDist().inv_cdf
    assert round(z(0.975) + z(0.80), 2) == MDE_FACTOR


def test_the_interval_over_tasks_needs_ten_matched_tasks():
    """MIN_TASKS = 10 is inclusive: 9 tasks → adjusted Wald (task-weighted) and Newcombe (pooled); 10 → the
    t-interval over tasks and the cluster-robust interval."""
    k, n = np.arange(1, 11), np.full(10, 12)
    c = np.minimum(k + np.arange(10) % 3, 12)
    assert task_weighted_interval(k[:9], n[:9], c[:9], n[:9]).method == "adjusted-wald"
    assert (task_weighted_interval(k, n, c, n).method, task_weighted_interval(k, n, c, n).tasks) == (
        "paired-tasks", 10)
    assert pooled_interval(k[:9], n[:9], c[:9], n[:9], tasks_match=True).method == "newcombe"
    assert pooled_interval(k, n, c, n, tasks_match=True).method == "cluster-tasks"


# ── Pinned against closed forms and scipy (docs/mutation.md) ──


def test_wilson_edges_are_clipped_to_0_and_1():
    assert wilson(0, 0) == (0.0, 1.0)
    lo, hi = wilson(0, 10)
    assert 0.0 <= lo < 1e-15 and 0 < hi < 1
    lo, hi = wilson(10, 10)
    assert 1 - 1e-15 < hi <= 1.0 and 0 < lo < 1
    # 0 of 10 by the closed form: upper = z² / (n + z²) (centre = half = z²/2n / (1 + z²/n))
    from statistics import NormalDist
    z = NormalDist().inv_cdf(0.975)
    assert wilson(0, 10)[1] == pytest.approx(z * z / (10 + z * z), rel=1e-12)
    assert wilson(3, 10, alpha=0.1)[1] < wilson(3, 10)[1]  # a lower level gives a narrower interval


def test_wilson_against_scipy():
    from scipy.stats import binomtest

    for k, n in ((3, 10), (81, 263), (1, 2)):
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson(k, n) == pytest.approx((ci.low, ci.high), rel=1e-12)


def test_newcombe_by_its_formula():
    from statistics import NormalDist

    l1, u1 = wilson(3, 10)
    l2, u2 = wilson(7, 12)
    d = 7 / 12 - 3 / 10
    lo = d - ((7 / 12 - l2) ** 2 + (u1 - 3 / 10) ** 2) ** 0.5
    hi = d + ((u2 - 7 / 12) ** 2 + (3 / 10 - l1) ** 2) ** 0.5
    se = (hi - lo) / (2 * NormalDist().inv_cdf(0.975))
    r = newcombe(3, 10, 7, 12)
    assert (r.delta_pp, r.lo, r.hi, r.mde, r.method) == (
        round(d * 100, 2), round(lo * 100, 2), round(hi * 100, 2), round(2.80 * se * 100, 2), "newcombe")


def test_paired_tasks_is_a_t_interval_over_the_task_changes():
    from scipy.stats import t

    b = np.array([0.5, 0.5, 0.5])
    c = np.array([0.6, 0.7, 0.8])  # changes 10, 20, 30 pp: mean 20, sd 10, se 10 / √3
    r = paired_tasks(b, c)
    half = t.ppf(0.975, 2) * 10 / np.sqrt(3)
    assert (r.delta_pp, r.lo, r.hi, r.mde, r.method, r.tasks) == (
        20.0, round(20 - half, 2), round(20 + half, 2), round(2.80 * 10 / np.sqrt(3), 2), "paired-tasks", 3)
    narrower = paired_tasks(b, c, alpha=0.2)
    assert narrower.lo > r.lo and narrower.hi < r.hi


def test_paired_tasks_clamps_to_the_possible_range():
    one = paired_tasks(np.array([0.2]), np.array([0.9]))  # one task: se is infinite
    assert (one.delta_pp, one.lo, one.hi, one.mde, one.tasks) == (70.0, -100.0, 100.0, 200.0, 1)
    wide = paired_tasks(np.array([0.0, 1.0]), np.array([1.0, 0.0]))  # changes +100, −100: se 100
    assert (wide.delta_pp, wide.lo, wide.hi, wide.mde) == (0.0, -100.0, 100.0, 200.0)  # MDE 280 capped


def test_the_intervals_need_runs_on_both_sides_and_tasks():
    one, none = np.array([1]), np.array([0])
    assert pooled_interval(none, none, one, np.array([2]), tasks_match=True) is None
    assert pooled_interval(one, np.array([2]), none, none, tasks_match=True) is None
    assert task_weighted_interval(np.array([]), np.array([]), np.array([]), np.array([])) is None
