"""Paired per-task geometric-mean ratio: narrower than unpaired when tasks differ, honest coverage."""

from __future__ import annotations

import math

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


def _expected(d: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float, float]:
    """The paired ratio by its definition: mean log ratio d̄, se = s / √m, t on m − 1 df (scipy), as %."""
    from scipy import stats

    m = d.size
    se = d.std(ddof=1) / np.sqrt(m)
    t = stats.t.ppf(1 - alpha / 2, m - 1)

    def pct(x):
        return round((np.exp(x) - 1) * 100, 1)

    return pct(d.mean()), pct(d.mean() - t * se), pct(d.mean() + t * se), pct(2.80 * se)


@pytest.mark.parametrize("alpha", [0.05, 0.20])
def test_paired_ratio_by_hand_over_ten_tasks(alpha):
    # task t has one baseline value 3 and current values 3·e^(d_t ± 0.05): log GM ratio exactly d_t
    d = np.array([0.30, -0.10, 0.05, 0.20, 0.00, 0.15, 0.40, -0.05, 0.25, 0.10])
    names = tuple(f"t{i}" for i in range(10))
    b, bt = np.full(10, 3.0), np.arange(10, dtype=np.int32)
    c = np.concatenate([3 * np.exp(d - 0.05), 3 * np.exp(d + 0.05)])
    ct = np.concatenate([np.arange(10), np.arange(10)]).astype(np.int32)
    r = paired_ratio(b, bt, names, c, ct, names, alpha)
    assert (r.pct, r.lo, r.hi, r.mde, r.tasks) == (*_expected(d, alpha), 10)


def test_paired_ratio_matches_tasks_by_name_and_skips_tasks_without_data_on_a_side():
    # current names in reverse order; task "gone" has only a zero and a NaN on the current side, task "new"
    # is current-only, and task "none" has no baseline value: the ten others carry log ratios d
    d = np.linspace(-0.2, 0.25, 10)
    common = [f"t{i}" for i in range(10)]
    b_names = (*common, "gone", "none")
    c_names = tuple(reversed((*common, "gone", "none", "new")))
    b = np.concatenate([np.full(10, 2.0), [5.0], [-1.0]])
    bt = np.arange(12, dtype=np.int32)
    c_by_name = {**{f"t{i}": 2 * np.exp(d[i]) for i in range(10)}, "none": 4.0, "new": 9.0}
    c_vals, c_codes = [], []
    for j, name in enumerate(c_names):
        if name == "gone":
            c_vals += [0.0, np.nan]
            c_codes += [j, j]
        else:
            c_vals.append(c_by_name[name])
            c_codes.append(j)
    r = paired_ratio(b, bt, b_names, np.array(c_vals), np.array(c_codes, dtype=np.int32), c_names)
    assert (r.pct, r.lo, r.hi, r.mde, r.tasks) == (*_expected(d), 10)


def test_a_ratio_past_the_float_range_has_no_number():
    # every task 1 → 1e305 (log ratio 702, above the e^700 limit): the % change is not a float
    names = tuple(f"t{i}" for i in range(10))
    t = np.arange(10, dtype=np.int32)
    assert paired_ratio(np.ones(10), t, names, np.full(10, 1e305), t, names) is None
    # 1 → 1e300 (log ratio 690.8) is a float: +1e302 %
    r = paired_ratio(np.ones(10), t, names, np.full(10, 1e300), t, names)
    assert r is not None and (r.pct, r.lo, r.hi) == pytest.approx((1e302,) * 3, rel=1e-9)
    # the limit itself is out: a log ratio of exactly 700 (log(e^700) is 700.0 to the last bit) has no number
    # although e^700 · 100 would still be a float
    edge = np.full(10, math.exp(700.0))
    assert np.log(edge[0]) == 700.0 and math.isfinite(math.exp(700.0) * 100)
    assert paired_ratio(np.ones(10), t, names, edge, t, names) is None
