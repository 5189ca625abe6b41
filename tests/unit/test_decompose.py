"""stats/decompose.py pinned on hand-worked fixtures: group medians and sums, and the additive split of a
change of the mean per trace into task-group contributions. Every expected number is worked out in the
comments from the definitions (median of a group; M = Σ_t S_t / N), not taken from the code's output."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kalibra_action.stats.decompose import Decomposition, decompose_mean, group_medians, group_sums


def test_group_medians_of_odd_even_single_and_empty_groups():
    # codes interleaved (the one sort must group by code, then order by value):
    #   group 0: 3, 1, 2        → sorted 1 2 3, median 2
    #   group 1: 20, 1, 10, 2   → sorted 1 2 10 20, median (2 + 10) / 2 = 6
    #   group 2: 7 (the NaN is left out) → 7
    #   group 3: nothing        → NaN
    values = np.array([20.0, 3.0, 7.0, 1.0, 1.0, np.nan, 10.0, 2.0, 2.0])
    codes = np.array([1, 0, 2, 0, 1, 2, 1, 0, 1])
    got = group_medians(values, codes, 4)
    assert got[:3].tolist() == [2.0, 6.0, 7.0] and math.isnan(got[3])


def test_group_medians_of_the_first_group_even_and_later_groups_offset_by_it():
    # group 0: 5, 1 → 3; group 1: 9, 8, 100 → 9; group 2: 4, 6, 0, 2 → (2 + 4) / 2 = 3 (starts at index 5)
    values = np.array([5.0, 9.0, 1.0, 4.0, 8.0, 6.0, 100.0, 0.0, 2.0])
    codes = np.array([0, 1, 0, 2, 1, 2, 1, 2, 2])
    assert group_medians(values, codes, 3).tolist() == [3.0, 9.0, 3.0]


def test_group_medians_halve_first_and_handle_no_finite_value():
    # the sum 1.5e308 + 1.7e308 overflows; halves first give 1.6e308
    got = group_medians(np.array([1.5e308, 1.7e308]), np.array([0, 0]), 1)
    assert got.tolist() == [1.6e308]
    # a single finite value is a group's median; the other groups have none
    one = group_medians(np.array([np.nan, 4.0]), np.array([0, 1]), 3)
    assert one[1] == 4.0 and np.isnan(one[[0, 2]]).all()
    only_nan = group_medians(np.array([np.nan, np.inf]), np.array([0, 1]), 2)
    assert only_nan.shape == (2,) and np.isnan(only_nan).all()


def test_group_sums_leave_out_values_that_are_not_finite():
    # group 0: 1 + 4 = 5 (2 values); group 1: 2 (NaN and inf left out, 1 value); group 2: none
    values = np.array([1.0, 2.0, np.nan, 4.0, np.inf])
    sums, counts = group_sums(values, np.array([0, 1, 1, 0, 1]), 3)
    assert sums.tolist() == [5.0, 2.0, 0.0] and counts.tolist() == [2, 1, 0]


def hand_worked() -> Decomposition:
    # task totals: baseline 10, 20, 0 over 5 traces → terms 2, 4, 0 (mean 6);
    #              current  30, 0, 15 over 6 traces → terms 5, 0, 2.5 (mean 7.5)
    # groups: a = tasks 0 and 2, b = task 1 → a: (5 + 2.5) − (2 + 0) = 5.5; b: 0 − 4 = −4; sum 1.5 = 7.5 − 6
    return decompose_mean(np.array([10.0, 20.0, 0.0]), 5, np.array([30.0, 0.0, 15.0]), 6,
                          np.array([0, 1, 0]), ("a", "b"))


def test_decompose_mean_by_hand():
    d = hand_worked()
    assert (d.baseline, d.current, d.change) == (6.0, 7.5, 1.5)
    assert d.contributions == {"a": 5.5, "b": -4.0} and d.tasks == {"a": 2, "b": 1}
    assert d.change_pct == 25.0  # 1.5 / 6
    assert d.share_pct("a") == pytest.approx(5.5 / 1.5 * 100, rel=1e-15)
    assert d.share_pct("b") == pytest.approx(-4.0 / 1.5 * 100, rel=1e-15)


def test_a_group_without_tasks_contributes_nothing():
    d = decompose_mean(np.array([4.0]), 2, np.array([2.0]), 1, np.array([1]), ("empty", "all"))
    # baseline 4 / 2 = 2, current 2 / 1 = 2: no change; the empty group has 0 tasks and 0 contribution
    assert d.contributions == {"empty": 0.0, "all": 0.0} and d.tasks == {"empty": 0, "all": 1}
    assert d.change == 0.0 and d.change_pct == 0.0 and d.share_pct("all") is None


def test_a_side_without_values_has_no_decomposition():
    s = np.array([1.0])
    assert decompose_mean(s, 0, s, 1, np.array([0]), ("a",)) is None
    assert decompose_mean(s, 1, s, 0, np.array([0]), ("a",)) is None
    assert decompose_mean(s, 1, s, 1, np.array([0]), ("a",)) is not None


def test_percentages_are_undefined_at_a_zero_baseline_a_zero_change_or_past_the_float_range():
    assert Decomposition(0.0, 3.0, {"a": 3.0}, {"a": 1}).change_pct is None
    assert Decomposition(3.0, 0.0, {"a": -3.0}, {"a": 1}).change_pct == -100.0
    assert Decomposition(1e-300, 1e300, {"a": 1e300}, {"a": 1}).change_pct is None  # 1e600 %
    assert Decomposition(0.0, 1e-300, {"a": 1e300}, {"a": 1}).share_pct("a") is None  # 1e602 %


def test_a_zero_share_of_a_fall_is_plus_zero():
    # change −2; group b contributes 0: 0 / −2 is −0.0, shown as "-0.0" unless it is made +0.0
    d = Decomposition(5.0, 3.0, {"a": -2.0, "b": 0.0}, {"a": 1, "b": 1})
    assert d.share_pct("a") == 100.0
    share = d.share_pct("b")
    assert share == 0.0 and math.copysign(1.0, share) == 1.0


def test_the_sums_are_compensated():
    # terms 1e16, 1, −1e16 in one group: a plain left-to-right float sum gives 0, fsum the exact 1
    d = decompose_mean(np.array([1e16, 1.0, -1e16]), 1, np.zeros(3), 1, np.zeros(3, dtype=int), ("a",))
    assert d.baseline == 1.0 and d.contributions == {"a": -1.0}
