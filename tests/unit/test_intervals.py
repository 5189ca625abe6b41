"""Success-rate intervals: Wilson, Newcombe, pooled, task-weighted — coverage and width by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kalibra_action.stats.intervals import (
    newcombe,
    newcombe_pp,
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


# ── The pooled and task-weighted intervals and the mix-shift test, by hand (docs/mutation.md) ──


def _pooled_by_hand(bk, bn, ck, cn, alpha=0.05):
    """The cluster-robust interval of the pooled change, from its definition (docstring of pooled_interval):
    e_t = (k_ct − R_c n_ct)/N_c − (k_bt − R_b n_bt)/N_b, se = √(m/(m−1) Σ e_t²), t on m − 1 df."""
    from scipy import stats

    bk, bn, ck, cn = (np.asarray(v, float) for v in (bk, bn, ck, cn))
    nb, nc, m = bn.sum(), cn.sum(), bk.size
    rb, rc = bk.sum() / nb, ck.sum() / nc
    e = (ck - rc * cn) / nc - (bk - rb * bn) / nb
    se = np.sqrt(m / (m - 1) * np.sum(e**2))
    return (rc - rb) * 100, stats.t.ppf(1 - alpha / 2, m - 1) * se * 100, se * 100


def test_pooled_interval_is_the_cluster_interval_when_it_is_the_wider():
    # tasks disagree strongly (each flips from all-pass to all-fail or back): the cluster interval is wide
    bk = np.array([10, 0, 10, 0, 10, 0, 10, 0, 10, 9])
    ck = np.array([0, 10, 0, 10, 0, 10, 0, 10, 2, 10])
    n = np.full(10, 10)
    point, half, se = _pooled_by_hand(bk, n, ck, n)
    nc = newcombe(int(bk.sum()), 100, int(ck.sum()), 100)
    assert point - half < nc.lo and point + half > nc.hi  # the cluster interval holds Newcombe's
    r = pooled_interval(bk, n, ck, n, tasks_match=True)
    want = (round(point, 2), round(point - half, 2), round(point + half, 2), round(2.80 * se, 2),
            "cluster-tasks", 10)
    assert (r.delta_pp, r.lo, r.hi, r.mde, r.method, r.tasks) == want
    wider = pooled_interval(bk, n, ck, n, tasks_match=True, alpha=0.01)
    assert wider.lo < r.lo and wider.hi > r.hi


def test_pooled_interval_is_never_narrower_than_newcombe():
    # every task moves by the same one run in ten: the cluster interval is narrow, each bound is Newcombe's
    bk = np.array([5, 6, 4, 5, 6, 4, 5, 6, 4, 5])
    ck = bk + 1
    n = np.full(10, 10)
    point, half, se = _pooled_by_hand(bk, n, ck, n)
    nc = newcombe(int(bk.sum()), 100, int(ck.sum()), 100)
    assert point - half > nc.lo and point + half < nc.hi
    r = pooled_interval(bk, n, ck, n, tasks_match=True)
    se_nc = (nc.hi - nc.lo) / (2 * 1.959963984540054)
    assert (r.lo, r.hi, r.method) == (nc.lo, nc.hi, "cluster-tasks")
    assert r.mde == round(2.80 * max(se, se_nc), 2) == round(2.80 * se_nc, 2)


def test_pooled_interval_is_clipped_to_the_possible_range():
    # nine one-run tasks go from fail to pass, one five-run task fails on both sides: pooled +64.3 pp with a
    # half-width of 57.7 pp, so the upper bound would be 122 pp
    bk, ck = np.zeros(10, dtype=int), np.array([1] * 9 + [0])
    n = np.array([1] * 9 + [5])
    point, half, _ = _pooled_by_hand(bk, n, ck, n)
    assert point + half > 100
    r = pooled_interval(bk, n, ck, n, tasks_match=True)
    nc = newcombe(0, 14, 9, 14)
    assert (r.lo, r.hi) == (round(min(point - half, nc.lo), 2), 100.0)


def test_task_weighted_interval_below_ten_tasks_is_the_adjusted_wald_interval():
    # 3 tasks: point = mean of the per-task changes; var = Σ p̃(1 − p̃)/(n + 2) / m², p̃ = (k + 1)/(n + 2)
    from scipy import stats

    bk, bn, ck, cn = np.array([1, 4, 0]), np.array([4, 6, 3]), np.array([3, 2, 3]), np.array([4, 8, 3])
    point = np.mean(ck / cn - bk / bn) * 100
    tilde = [((k + 1) / (n + 2), n) for k, n in zip([*bk, *ck], [*bn, *cn], strict=True)]
    se = math.sqrt(sum(p * (1 - p) / (n + 2) for p, n in tilde) / 9) * 100
    half = stats.norm.ppf(0.975) * se
    r = task_weighted_interval(bk, bn, ck, cn)
    want = (round(point, 2), round(point - half, 2), round(point + half, 2), round(2.80 * se, 2),
            "adjusted-wald", 3)
    assert (r.delta_pp, r.lo, r.hi, r.mde, r.method, r.tasks) == want
    narrow = task_weighted_interval(bk, bn, ck, cn, alpha=0.5)
    assert narrow.hi == round(point + stats.norm.ppf(0.75) * se, 2)


def test_mix_shift_by_hand_and_its_flag():
    from scipy import stats

    from kalibra_action.stats.intervals import MixShift, mix_shift

    # 10 tasks, run counts that differ between the sides, so pooled and task-weighted changes differ
    bk = np.array([9, 1, 8, 2, 7, 3, 6, 4, 5, 5])
    bn = np.array([10, 2, 10, 4, 10, 6, 10, 8, 10, 10])
    ck = np.array([2, 9, 3, 8, 2, 7, 1, 6, 2, 4])
    cn = np.array([4, 10, 6, 10, 4, 10, 2, 10, 4, 8])
    d = ck / cn - bk / bn
    diff = (ck.sum() / cn.sum() - bk.sum() / bn.sum()) - d.mean()
    nb, nc = bn.sum(), cn.sum()
    e = (ck - ck.sum() / nc * cn) / nc - (bk - bk.sum() / nb * bn) / nb
    g = e - (d - d.mean()) / 10
    half = stats.t.ppf(0.975, 9) * math.sqrt(10 / 9 * np.sum(g * g))
    got = mix_shift(bk, bn, ck, cn)
    want = (round(diff * 100, 2), round((diff - half) * 100, 2), round((diff + half) * 100, 2), 10)
    assert got == MixShift(*want)
    assert got.flag is (not got.lo <= 0 <= got.hi)
    assert mix_shift(bk[:9], bn[:9], ck[:9], cn[:9]) is None  # under ten tasks: not tested
    assert MixShift(1.0, 0.0, 2.0, 10).flag is False and MixShift(-1.0, -2.0, 0.0, 10).flag is False
    assert MixShift(1.0, 0.01, 2.0, 10).flag is True and MixShift(-1.0, -2.0, -0.01, 10).flag is True


@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_per_task_newcombe_equals_the_scalar_one(alpha):
    b_k, b_n = np.array([0, 3, 7, 10, 1]), np.array([10, 10, 12, 10, 1])
    c_k, c_n = np.array([5, 3, 2, 10, 0]), np.array([10, 4, 9, 10, 3])
    lo, hi = newcombe_pp(b_k, b_n, c_k, c_n, alpha)
    for i in range(5):
        one = newcombe(int(b_k[i]), int(b_n[i]), int(c_k[i]), int(c_n[i]), alpha)
        assert (lo[i], hi[i]) == pytest.approx((one.lo, one.hi), abs=1e-9), i


def test_a_pooled_interval_past_both_ends_is_clipped_and_its_mde_capped_at_200():
    # two 100-run tasks swap all-pass and all-fail, eight one-run tasks fail throughout: e = ±0.5 for the two
    # big tasks (≈ 0, tiny, for the rest), se = √(10/9 · Σe²) ≈ 71.7 pp, so 2.80 se ≈ 200.7 pp and the
    # t half-width ≈ 162 pp around 0
    bk, ck = np.array([0, 100] + [0] * 8), np.array([100, 0] + [0] * 8)
    n = np.array([100, 100] + [1] * 8)
    point, half, se = _pooled_by_hand(bk, n, ck, n)
    assert point == 0.0 and half > 100 and 200 < 2.80 * se < 201
    r = pooled_interval(bk, n, ck, n, tasks_match=True)
    assert (r.lo, r.hi, r.mde) == (-100.0, 100.0, 200.0)


@pytest.mark.parametrize("alpha", [0.01, 0.2])
def test_the_newcombe_floor_uses_the_same_level(alpha):
    bk = np.array([5, 6, 4, 5, 6, 4, 5, 6, 4, 5])
    n = np.full(10, 10)
    r = pooled_interval(bk, n, bk + 1, n, tasks_match=True, alpha=alpha)
    nc = newcombe(int(bk.sum()), 100, int(bk.sum()) + 10, 100, alpha)
    assert (r.lo, r.hi) == (nc.lo, nc.hi)


def test_paired_tasks_over_two_tasks_is_a_t_interval_on_one_degree_of_freedom():
    from scipy.stats import t

    # changes 10 and 11.234 pp: mean 10.617, sd 1.234/√2, se 0.617; t(0.975, 1) = 12.71
    r = paired_tasks(np.array([0.5, 0.5]), np.array([0.6, 0.61234]))
    mean, se = 10.617, 0.617
    half = t.ppf(0.975, 1) * se
    assert (r.delta_pp, r.lo, r.hi, r.mde, r.tasks) == pytest.approx(
        (10.62, round(mean - half, 2), round(mean + half, 2), round(2.80 * se, 2), 2), abs=1e-9)


def test_the_task_weighted_interval_from_ten_tasks_keeps_its_level():
    bk, ck = np.arange(10), np.array([1, 3, 2, 5, 4, 4, 8, 6, 9, 9])
    n = np.full(10, 10)
    for alpha in (0.05, 0.2):
        got = task_weighted_interval(bk, n, ck, n, alpha=alpha)
        assert got == paired_tasks(bk / 10, ck / 10, alpha)
    assert task_weighted_interval(bk, n, ck, n, alpha=0.2).hi < task_weighted_interval(bk, n, ck, n).hi


def test_wilson_bounds_never_leave_0_and_1_by_rounding():
    # 13 of 13: centre + half is 1 + 2.2e-16 in floats; 0 of 31: centre − half is −6.9e-18 (both exactly
    # 1 and 0 in real arithmetic); the bounds are clipped, in the scalar and the array version alike
    from statistics import NormalDist

    from kalibra_action.stats.intervals import _wilson_arrays

    z = -NormalDist().inv_cdf(0.025)  # the upper 2.5 % point, as the code takes it: by symmetry
    for k, n in ((13, 13), (0, 31)):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        assert centre + half > 1.0 or centre - half < 0.0  # the rounding these cases are chosen for
    assert wilson(13, 13)[1] == 1.0 and wilson(0, 31)[0] == 0.0
    lo, hi = _wilson_arrays(np.array([0.0, 1.0]), np.array([31.0, 13.0]), z)
    assert lo[0] == 0.0 and hi[1] == 1.0


def test_newcombe_pp_defaults_to_95_percent():
    args = (np.array([3, 7]), np.array([10, 12]), np.array([6, 2]), np.array([9, 12]))
    lo, hi = newcombe_pp(*args)
    lo95, hi95 = newcombe_pp(*args, 0.05)
    assert lo.tolist() == lo95.tolist() and hi.tolist() == hi95.tolist()
