"""Success-rate intervals: Wilson, Newcombe, paired over tasks — coverage and width by simulation."""

from __future__ import annotations

import numpy as np
import pytest

from kalibra_action.stats.intervals import newcombe, paired_tasks, success_rate_interval, wilson


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
        r = success_rate_interval(int(bk.sum()), 25 * runs, int(ck.sum()), 25 * runs, bk / runs, ck / runs,
                                  tasks_match=True)
        assert r is not None and r.method == "paired-tasks"
        covered += r.lo <= 0 <= r.hi
        widths_paired.append(r.hi - r.lo)
        n = newcombe(int(bk.sum()), 25 * runs, int(ck.sum()), 25 * runs)
        widths_newcombe.append(n.hi - n.lo)
    assert 0.92 <= covered / reps <= 0.99
    assert np.mean(widths_paired) <= 15.5  # statistics.md: 13.9 pp
    assert np.mean(widths_paired) < 0.75 * np.mean(widths_newcombe)


def test_few_tasks_or_unmatched_tasks_fall_back_to_newcombe():
    rates = np.array([0.5, 0.6, 0.7])
    r = success_rate_interval(9, 15, 8, 15, rates, rates, tasks_match=True)
    assert r is not None and r.method == "newcombe"
    r = success_rate_interval(9, 15, 8, 15, np.ones(12), np.ones(12), tasks_match=False)
    assert r is not None and r.method == "newcombe"
    assert success_rate_interval(0, 0, 1, 2) is None


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


def test_the_paired_interval_needs_ten_matched_tasks():
    """9 task rates → Newcombe; 10 → paired over tasks (MIN_TASKS is inclusive)."""
    rates = np.linspace(0.1, 0.9, 10)
    r9 = success_rate_interval(9, 18, 9, 18, rates[:9], rates[:9], tasks_match=True)
    r10 = success_rate_interval(10, 20, 10, 20, rates, rates, tasks_match=True)
    assert r9 is not None and r9.method == "newcombe"
    assert r10 is not None and (r10.method, r10.tasks) == ("paired-tasks", 10)
