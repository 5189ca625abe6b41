"""Paired per-task geometric-mean ratio: narrower than unpaired when tasks differ, honest coverage."""

from __future__ import annotations

import numpy as np
import pytest

from kalibra_action.stats.paired import paired_ratio, task_log_means


def _population(rng, task_scale, runs, effect=1.0):
    tasks = np.repeat(np.arange(task_scale.size), runs)
    values = task_scale[tasks] * rng.lognormal(0, 0.3, tasks.size) * effect
    return values, tasks.astype(np.int32)


def test_log_means_ignore_missing_and_non_positive_values():
    values = np.array([1.0, np.e, np.nan, 0.0, np.e**2])
    logs, counts = task_log_means(values, np.array([0, 0, 0, 1, 1]), 2)
    np.testing.assert_allclose(logs, [0.5, 2.0])
    np.testing.assert_array_equal(counts, [2, 1])


def test_detects_a_20_percent_rise_hidden_by_task_spread():
    rng = np.random.default_rng(4)
    scale = np.exp(rng.normal(0, 1.5, 25))  # tasks differ 100-fold in cost
    names = tuple(f"t{i}" for i in range(25))
    b, bt = _population(rng, scale, 5)
    c, ct = _population(rng, scale, 5, effect=1.2)
    r = paired_ratio(b, bt, names, c, ct, names)
    assert r is not None and r.tasks == 25
    assert r.lo > 0 and r.pct == pytest.approx(20, abs=8)


def test_coverage_without_change():
    rng = np.random.default_rng(9)
    names = tuple(f"t{i}" for i in range(25))
    hits = 0
    for _ in range(300):
        scale = np.exp(rng.normal(0, 1, 25))
        b, bt = _population(rng, scale, 4)
        c, ct = _population(rng, scale, 4)
        r = paired_ratio(b, bt, names, c, ct, names)
        hits += r.lo <= 0 <= r.hi
    assert 0.92 <= hits / 300 <= 0.98


def test_needs_enough_matched_tasks():
    names = tuple(f"t{i}" for i in range(5))
    v, t = np.ones(10), np.repeat(np.arange(5), 2).astype(np.int32)
    assert paired_ratio(v, t, names, v, t, names) is None
    other = tuple(f"x{i}" for i in range(12))
    v12, t12 = np.ones(24), np.repeat(np.arange(12), 2).astype(np.int32)
    assert paired_ratio(v12, t12, tuple(f"t{i}" for i in range(12)), v12, t12, other) is None


def test_ten_matched_tasks_are_enough_and_nine_are_not():
    """MIN_TASKS = 10 is inclusive. Values 1 and 2 on alternate tasks, doubled on the current side: every
    per-task log ratio is log 2, so the ratio is +100 % with a zero-width interval."""
    for m, ok in ((9, False), (10, True)):
        names = tuple(f"t{i}" for i in range(m))
        t = np.repeat(np.arange(m), 2).astype(np.int32)
        b = np.where(t % 2, 2.0, 1.0)
        r = paired_ratio(b, t, names, 2 * b, t, names)
        assert (r is not None) is ok
        if ok:
            assert (r.pct, r.lo, r.hi, r.mde, r.tasks) == (100.0, 100.0, 100.0, 0.0, 10)
