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
