"""Per-task numbers pinned on designs small enough to work out by hand, in both directions.

The oracles (tests/fixtures/oracle.py) are independent of `kalibra_action`: Fisher's one-sided statistic
in exact fractions, Boschloo's p-value as the maximum of its polynomial in the common pass rate π (found
at a root of the derivative), Benjamini–Hochberg by its definition, the two-proportion power formula;
besides them scipy's Fisher test, and the hand derivations in the comments. Tolerances are 1e-9
relative: tight enough that a p-value taken in the wrong direction, a BH over the wrong set of tasks or
a shifted threshold cannot pass.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from kalibra_action.metrics import make_metric
from kalibra_action.stats.pertask import compare_tasks, min_p, one_sided_p, prob_drop, runs_needed
from kalibra_action.traces.population import Population, PopulationBuilder
from tests.fixtures.oracle import bh, boschloo, fleiss_n, same_n_drop

TIGHT = 1e-9


def arrays(rows: list[tuple[int, int, int, int]]) -> tuple[np.ndarray, ...]:
    return tuple(np.array(col) for col in zip(*rows, strict=True))


# ---- the oracle itself, on cases worked out on paper --------------------------------------------

def test_the_enumeration_oracle_on_cases_worked_out_by_hand():
    # the most extreme table is alone in its region: sup π^n1 (1 − π)^n2 at π = n1 / (n1 + n2)
    assert boschloo(4, 4, 0, 4) == pytest.approx(0.5**8, rel=1e-12)
    assert boschloo(10, 10, 0, 10) == pytest.approx(0.5**20, rel=1e-12)
    assert boschloo(2, 2, 0, 3) == pytest.approx(0.4**2 * 0.6**3, rel=1e-12)
    # the least extreme table has statistic 1: every table is in the region, probability 1
    assert boschloo(0, 4, 4, 4) == pytest.approx(1.0, rel=1e-12)
    # 4/4 → 2/4: the example, 0.089 by Boschloo (the old sample table said 0.16)
    assert boschloo(4, 4, 2, 4) == pytest.approx(0.089, abs=5e-4)


# ---- exact p-values in both directions ----------------------------------------------------------

CASES = [  # (baseline k, n, current k, n)
    (4, 4, 0, 4), (4, 4, 1, 4), (4, 4, 2, 4), (4, 4, 3, 4), (2, 2, 0, 2), (2, 2, 1, 2), (10, 10, 7, 10),
    (6, 8, 2, 5), (3, 7, 0, 9), (5, 5, 4, 9), (0, 10, 10, 10), (1, 6, 5, 6), (7, 12, 3, 3), (9, 9, 9, 9),
]


@pytest.mark.parametrize(("bk", "bn", "ck", "cn"), CASES)
def test_regression_and_improvement_p_values_match_enumeration(bk, bn, ck, cn):
    # a regression tests 'baseline rate > current rate'; an improvement the same with the sides swapped
    assert one_sided_p(bk, bn, ck, cn) == pytest.approx(boschloo(bk, bn, ck, cn), rel=TIGHT)
    assert one_sided_p(ck, cn, bk, bn) == pytest.approx(boschloo(ck, cn, bk, bn), rel=TIGHT)


def test_smallest_reachable_p_values_are_the_all_pass_to_all_fail_table():
    # sup π^n1 (1 − π)^n2 is reached at π = n1 / (n1 + n2)
    for n1, n2 in ((2, 2), (3, 5), (6, 4), (10, 10)):
        pi = n1 / (n1 + n2)
        assert min_p(n1, n2) == pytest.approx(pi**n1 * (1 - pi) ** n2, rel=TIGHT)


def test_fisher_is_used_above_100_runs_a_side_and_boschloo_up_to_100():
    # at 101 runs a side the p-value is Fisher's (scipy, exact); at 100 it is Boschloo's, which is smaller
    fisher = stats.fisher_exact([[90, 80], [11, 21]], alternative="greater").pvalue
    assert one_sided_p(90, 101, 80, 101) == pytest.approx(fisher, rel=TIGHT)
    assert one_sided_p(80, 101, 90, 101) == pytest.approx(
        stats.fisher_exact([[80, 90], [21, 11]], alternative="greater").pvalue, rel=TIGHT)
    at_100 = one_sided_p(90, 100, 80, 100)
    bos = stats.boschloo_exact([[90, 80], [10, 20]], alternative="greater").pvalue
    fis = stats.fisher_exact([[90, 80], [10, 20]], alternative="greater").pvalue
    assert at_100 == pytest.approx(bos, rel=1e-4) and abs(at_100 - fis) > 0.05 * fis
    assert one_sided_p(90, 100, 80, 100, fisher_above=99) == pytest.approx(fis, rel=TIGHT)


# ---- verdicts and BH through compare_tasks ------------------------------------------------------

def test_three_tasks_going_from_0_of_10_to_10_of_10_are_significant_improvements():
    # t0..t2: 0/10 → 10/10. Improvement p: only the observed table is that extreme, so
    #   p = sup π^10 (1 − π)^10 = 4^-10 = 2^-20 at π = ½.
    # The regression p of the same table is 1 (it is the least extreme way to drop).
    # flat: 5/10 → 5/10, improvement p from the enumeration (large). BH over the 4 improvement p-values:
    #   the three tied smallest share q = 2^-20 · 4/3 (the bound at rank 3), far below FDR 0.10.
    rows = [(0, 10, 10, 10)] * 3 + [(5, 10, 5, 10)]
    res = compare_tasks(["t0", "t1", "t2", "flat"], *arrays(rows))
    assert res.significant_improvements == 3 and res.significant_regressions == 0
    p_flat = boschloo(5, 10, 5, 10)
    for v in res.tasks[:3]:
        assert v.verdict == "improved" and v.naive == "improved" and v.delta_pp == 100.0
        assert v.p_improvement == pytest.approx(2.0**-20, rel=TIGHT)
        assert v.q_improvement == pytest.approx(2.0**-20 * 4 / 3, rel=TIGHT)
        assert v.p_regression == pytest.approx(1.0, rel=TIGHT)
        assert v.as_dict()["p"] == v.p_improvement and v.as_dict()["q"] == v.q_improvement
    flat = res.tasks[3]
    assert flat.verdict == "unchanged" and flat.p_improvement == pytest.approx(p_flat, rel=TIGHT)
    assert flat.q_improvement == pytest.approx(p_flat, rel=TIGHT)  # rank 4 of 4: p · 4/4


def test_three_tasks_going_from_10_of_10_to_0_of_10_are_significant_regressions():
    # the mirror image: regression p = 2^-20, improvement p = 1
    rows = [(10, 10, 0, 10)] * 3 + [(5, 10, 5, 10)]
    res = compare_tasks(["t0", "t1", "t2", "flat"], *arrays(rows))
    assert res.significant_regressions == 3 and res.significant_improvements == 0
    for v in res.tasks[:3]:
        assert v.verdict == "regressed" and v.delta_pp == -100.0
        assert v.p_regression == pytest.approx(2.0**-20, rel=TIGHT)
        assert v.q_regression == pytest.approx(2.0**-20 * 4 / 3, rel=TIGHT)
        assert v.p_improvement == pytest.approx(1.0, rel=TIGHT)


def test_bh_runs_over_all_tasks_separately_in_each_direction():
    # A 4/4 → 0/4, B 0/4 → 4/4, C 2/2 → 2/2, D 4/4 → 2/4, E 3/4 → 4/4. m = 5.
    # Regression p: A 2^-8, D 0.089 (enumeration), C, E, B large. q_reg(A) = 2^-8 · 5/1 = 0.0195 ≤ 0.10.
    # Improvement p: B 2^-8 → q_imp(B) = 0.0195 as well; pooling both directions (m = 10) would double it.
    rows = [(4, 4, 0, 4), (0, 4, 4, 4), (2, 2, 2, 2), (4, 4, 2, 4), (3, 4, 4, 4)]
    res = compare_tasks(list("ABCDE"), *arrays(rows))
    p_reg = [boschloo(bk, bn, ck, cn) for bk, bn, ck, cn in rows]
    p_imp = [boschloo(ck, cn, bk, bn) for bk, bn, ck, cn in rows]
    np.testing.assert_allclose([v.p_regression for v in res.tasks], p_reg, rtol=TIGHT)
    np.testing.assert_allclose([v.p_improvement for v in res.tasks], p_imp, rtol=TIGHT)
    np.testing.assert_allclose([v.q_regression for v in res.tasks], bh(p_reg), rtol=TIGHT)
    np.testing.assert_allclose([v.q_improvement for v in res.tasks], bh(p_imp), rtol=TIGHT)
    assert res.tasks[0].q_regression == pytest.approx(5 * 2.0**-8, rel=TIGHT)
    assert res.tasks[1].q_improvement == pytest.approx(5 * 2.0**-8, rel=TIGHT)
    # D: q = min(0.089 · 5/2, …) > 0.10, so only a naive regression. C: 2 runs a side can reach at best
    # p = 1/16 > 0.10 / 5 on its own, so it is untestable; A, B, D, E (4 runs: 2^-8 < 0.02) are testable.
    assert [v.verdict for v in res.tasks] == ["regressed", "improved", "untestable", "unchanged", "unchanged"]
    assert [v.naive for v in res.tasks] == ["regressed", "improved", "unchanged", "regressed", "improved"]
    assert res.untestable_tasks == 1


def test_the_untestable_threshold_is_the_lone_bh_bound_fdr_over_m():
    # 2 runs a side: best p = 1/16 = 0.0625. With m = 1 the bound is 0.10: testable, and 2/2 → 0/2 is
    # significant. With m = 2 (the other task 2/2 → 2/2, regression p 1) the bound is 0.05: both are
    # untestable, and the drop's q = min(1/16 · 2/1, 1 · 2/2) = 1/8 is not significant.
    one = compare_tasks(["a"], *arrays([(2, 2, 0, 2)]))
    assert one.tasks[0].verdict == "regressed" and one.untestable_tasks == 0 and one.runs_for_30pp is None
    two = compare_tasks(["a", "b"], *arrays([(2, 2, 0, 2), (2, 2, 2, 2)]))
    assert [v.verdict for v in two.tasks] == ["untestable", "untestable"] and two.untestable_tasks == 2
    assert two.tasks[0].q_regression == pytest.approx(1 / 8, rel=TIGHT)
    # chance drops: the drop's pooled rate is ½, P(Kc < Kb) at 2 v 2; the other task's rate 1 never drops
    assert two.expected_regressions == round(same_n_drop(2, 0.5), 2)
    # together, two such drops are significant although each alone is untestable: q = 1/16 · 2/2
    both = compare_tasks(["a", "b"], *arrays([(2, 2, 0, 2), (2, 2, 0, 2)]))
    assert [v.verdict for v in both.tasks] == ["regressed", "regressed"] and both.untestable_tasks == 2


def test_change_in_points_is_rounded_to_two_decimals_from_unequal_run_counts():
    # 1/3 → 2/3 is +33.33 pp; 3/7 → 1/6 is (1/6 − 3/7) · 100 = −26.19 pp
    res = compare_tasks(["a", "b"], *arrays([(1, 3, 2, 3), (3, 7, 1, 6)]))
    assert [v.delta_pp for v in res.tasks] == [33.33, -26.19]
    assert [v.naive for v in res.tasks] == ["improved", "regressed"]


def test_a_q_value_equal_to_the_fdr_is_significant():
    # one task, 2 runs a side: p = q = 1/16 exactly (½⁴); at FDR 1/16 it counts, in either direction
    down = compare_tasks(["a"], *arrays([(2, 2, 0, 2)]), fdr=1 / 16)
    up = compare_tasks(["a"], *arrays([(0, 2, 2, 2)]), fdr=1 / 16)
    assert down.tasks[0].q_regression == up.tasks[0].q_improvement == 1 / 16
    assert down.tasks[0].verdict == "regressed" and up.tasks[0].verdict == "improved"
    # and the best reachable p equal to the lone bound fdr / m = 1/16 makes the task testable
    assert down.untestable_tasks == up.untestable_tasks == 0 and down.runs_for_30pp is None


def test_runs_needed_for_rarely_passing_tasks_assumes_at_least_a_half_pass_rate():
    # 3 untestable tasks with pooled rates ¼, 0, ¼: the median ¼ is raised to ½ (a 30 pp drop from ½),
    # at the level 0.10 / 3
    res = compare_tasks(list("abc"), *arrays([(1, 2, 0, 2), (0, 2, 0, 2), (1, 2, 0, 2)]))
    assert res.untestable_tasks == 3
    assert res.runs_for_30pp == fleiss_n(0.5, 0.2, 0.10 / 3)


# ---- chance regressions and runs needed ---------------------------------------------------------

def test_prob_drop_on_tiny_designs():
    # 4 vs 4 runs at rate ½: P(Kc < Kb) = (1 − P(Kc = Kb)) / 2 = (1 − Σ C(4,k)² / 256) / 2 = (1 − 70/256) / 2
    assert prob_drop(4, 4, 0.5) == pytest.approx(93 / 256, rel=1e-12)
    # 1 vs 2 runs: current k/2 < baseline k/1 only when the baseline passed and current did not pass twice
    for r in (0.1, 0.37, 0.8):
        assert prob_drop(1, 2, r) == pytest.approx(r * (1 - r**2), rel=1e-12)
        # 2 vs 1 runs: k_c < k_b / 2 · 1 → current failed (k_c = 0) and the baseline passed at least once
        assert prob_drop(2, 1, r) == pytest.approx((1 - r) * (1 - (1 - r) ** 2), rel=1e-12)


@pytest.mark.parametrize(("rate", "drop", "alpha", "p1"), [
    (0.8, 30.0, 0.05, 0.8), (0.5, 30.0, 0.1 / 3, 0.5), (0.9, 10.0, 0.001, 0.9),
    (0.2, 30.0, 0.05, 0.31),  # a rate too low to drop 30 pp from is raised to 30 pp + 1
    (0.05, 10.0, 1e-4, 0.11),  # the same floor where n is large enough to tell 0.11 from 0.109 or 0.09
    (0.0, 20.0, 1e-3, 0.21),
    (0.999, 5.0, 0.05, 0.99),  # and one too close to 1 is held at 0.99
    (0.99, 90.0, 0.4, 0.99),  # a huge drop at a loose level: the floor of 2 runs
])
def test_runs_needed_is_the_two_proportion_power_formula(rate, drop, alpha, p1):
    assert runs_needed(rate, drop, alpha) == fleiss_n(p1, max(p1 - drop / 100, 0.0), alpha)
    assert runs_needed(0.99, 90.0, 0.4) == 2


def outcomes(label: str, rows: dict[str, tuple[int, int]]) -> Population:
    """k passes then n − k failures per task: the counts are exact, not drawn."""
    b = PopulationBuilder(label)
    for task, (k, n) in rows.items():
        for r in range(n):
            b.add_trace(f"{label}-{task}-{r}", task, int(r < k), cost=None, input_tokens=None,
                        output_tokens=None, duration=None, spans=())
    return b.build()


def test_trace_breakdown_reports_improvements_runs_needed_and_chance_drops():
    # A..C 0/4 → 4/4 (improvement p 2^-8, q 2^-8 · 5/3), D 4/4 → 2/4, E 2/2 → 1/2 (untestable: 1/16 > 0.1/5).
    base = outcomes("b", {"A": (0, 4), "B": (0, 4), "C": (0, 4), "D": (4, 4), "E": (2, 2)})
    cur = outcomes("c", {"A": (4, 4), "B": (4, 4), "C": (4, 4), "D": (2, 4), "E": (1, 2)})
    obs = make_metric("trace_breakdown").compare(base, cur)
    f, md = obs.fields, obs.metadata
    assert f["improvements"].value == 3 and f["significant_improvements"].value == 3
    assert f["regressions"].value == 2 and f["significant_regressions"].value == 0
    assert md["significant_improvements"] == ["A", "B", "C"]
    for e in md["improvements"]:
        assert e["significant"] is True and e["verdict"] == "improved"
        assert e["p"] == pytest.approx(2.0**-8, rel=TIGHT)
        assert e["q"] == pytest.approx(2.0**-8 * 5 / 3, rel=TIGHT)
    d = next(e for e in md["regressions"] if e["task_id"] == "D")
    assert d["significant"] is False and d["p"] == pytest.approx(boschloo(4, 4, 2, 4), rel=TIGHT)
    # chance drops: A..C pooled rate ½ at 4 v 4 → 93/256 each; D pooled ¾ at 4 v 4; E pooled ¾ at 2 v 2
    expected = 3 * 93 / 256 + same_n_drop(4, 0.75) + same_n_drop(2, 0.75)
    assert f["expected_regressions"].value == round(expected, 2)
    # runs needed: median pooled rate ½ (A, B, C), level 0.10 / 5, a 30 pp drop from ½ to 0.2
    needed = fleiss_n(0.5, 0.2, 0.10 / 5)
    assert md["runs_for_30pp"] == needed and f["untestable_tasks"].value == 1 and md["untestable"] == ["E"]
    assert f"about {needed} runs a side would detect a 30 pp drop" in obs.warnings[-1]


def test_power_z_is_the_80_percent_normal_quantile():
    from statistics import NormalDist

    from kalibra_action.stats.pertask import POWER_Z

    assert NormalDist().inv_cdf(0.80) == pytest.approx(POWER_Z, rel=1e-15)


# ---- ordering, the keep cap and the per-task dict (docs/mutation.md) ---------------------------------


def test_rank_order_worst_first_then_p_then_position():
    from kalibra_action.stats.pertask import rank_order

    # groups: 0 significant drop, 1 other drop, 2 significant rise, 3 other rise, 4 the rest
    code = np.array([3, 0, 1, 3, 3, 2, 3, 3])
    delta = np.array([0.0, -50, 40, -10, 10, 0, -10, 0])
    p = np.array([0.5, 0.01, 0.02, 0.3, 0.4, 0.2, 0.3, 0.5])
    # group 0: [1]; group 1: [3, 6] (same p → position); group 2: [2]; group 3: [4];
    # group 4: [5] (p 0.2), then [0, 7] (p 0.5 → position)
    assert rank_order(code, delta, p).tolist() == [1, 3, 6, 2, 4, 5, 0, 7]
    assert rank_order(code, delta, np.where(np.arange(8) == 6, 0.1, p)).tolist() == [1, 6, 3, 2, 4, 5, 0, 7]


def test_keep_equal_to_the_task_count_keeps_name_order():
    """With keep ≥ m every task stays, in name order; else worst first: b (10/10 → 0/10, a drop), then c
    (5/10 → 6/10, a rise), then a (unchanged)."""
    rows = [(5, 10, 5, 10), (10, 10, 0, 10), (5, 10, 6, 10)]
    names = ["a", "b", "c"]
    for keep, order in ((3, ["a", "b", "c"]), (4, ["a", "b", "c"]), (2, ["b", "c"]), (None, ["a", "b", "c"])):
        res = compare_tasks(names, *arrays(rows), keep=keep)
        assert [v.task_id for v in res.tasks] == order, keep
        assert res.n_tasks == 3 and res.truncated is (keep == 2)


def test_no_tasks_give_an_empty_result():
    empty = np.array([], dtype=int)
    res = compare_tasks([], empty, empty, empty, empty)
    assert (res.tasks, res.n_tasks, res.significant_regressions, res.untestable_tasks, res.runs_for_30pp) == (
        (), 0, 0, 0, None)


@pytest.mark.parametrize(("delta", "p", "q"), [(-50.0, 0.1, 0.2), (0.0, 0.9, 0.95), (25.0, 0.9, 0.95)])
def test_as_dict_shows_the_p_value_of_the_direction_of_the_change(delta, p, q):
    from kalibra_action.stats.pertask import TaskVerdict

    v = TaskVerdict("t", 1, 2, 0, 3, delta, 0.1, 0.9, 0.2, 0.95, "unchanged", "regressed", True)
    assert v.as_dict() == {"task_id": "t", "baseline": {"success": 1, "total": 2},
                           "current": {"success": 0, "total": 3}, "delta_pp": delta, "p": p, "q": q,
                           "verdict": "unchanged", "naive": "regressed", "untestable": True,
                           "delta_ci_pp": None, "ci_method": "newcombe-hybrid"}
    with_ci = TaskVerdict("t", 1, 2, 0, 3, delta, 0.1, 0.9, 0.2, 0.95, "unchanged", "regressed", True,
                          ci_pp=(-80.0, 20.0))
    assert with_ci.as_dict()["delta_ci_pp"] == [-80.0, 20.0]


def test_an_untested_side_or_a_pass_rate_of_0_or_1_has_no_chance_drop():
    assert one_sided_p(3, 4, 0, 0) == 1.0 and one_sided_p(0, 0, 1, 4) == 1.0
    for rate in (0.0, 1.0, -0.1, 1.1):
        assert prob_drop(3, 3, rate) == 0.0
    assert prob_drop(0, 3, 0.5) == 0.0 and prob_drop(3, 0, 0.5) == 0.0
    # one run a side at rate 1/2: a drop is (pass, fail), probability 1/4
    assert prob_drop(1, 1, 0.5) == pytest.approx(0.25, rel=1e-12)
    assert prob_drop(1, 1, 1e-9) > 0 and prob_drop(1, 1, 1 - 1e-9) > 0


def test_fisher_above_reaches_every_test_compare_tasks_runs():
    """With fisher_above=5, 10-run tasks use Fisher for both directions and for the untestable bound."""
    rows = [(9, 10, 3, 10), (2, 10, 8, 10)]
    res = compare_tasks(["a", "b"], *arrays(rows), fisher_above=5)
    fis = [stats.fisher_exact([[bk, ck], [bn - bk, cn - ck]], alternative="greater").pvalue
           for bk, bn, ck, cn in rows]
    imp = [stats.fisher_exact([[ck, bk], [cn - ck, bn - bk]], alternative="greater").pvalue
           for bk, bn, ck, cn in rows]
    assert [v.p_regression for v in res.tasks] == pytest.approx(fis, rel=TIGHT)
    assert [v.p_improvement for v in res.tasks] == pytest.approx(imp, rel=TIGHT)
    # 10 runs a side, alone = 0.10 / 2: Fisher's smallest p (1/184756) and Boschloo's are both below it, so
    # tell the two apart with a design where only Boschloo's is: 3 runs a side, alone = 0.10 / 1
    fisher_min = stats.fisher_exact([[3, 0], [0, 3]], alternative="greater").pvalue  # 1/20 = 0.05
    assert fisher_min == pytest.approx(0.05) and min_p(3, 3) < 0.05
    lone = compare_tasks(["t"], *arrays([(3, 3, 0, 3)]), fdr=0.06, fisher_above=2)
    assert lone.untestable_tasks == 0  # Fisher's 0.05 ≤ 0.06
    lone = compare_tasks(["t"], *arrays([(3, 3, 0, 3)]), fdr=0.04, fisher_above=2)
    assert lone.untestable_tasks == 1  # Fisher's 0.05 > 0.04, though Boschloo's would not be


def test_fisher_is_the_default_above_100_runs_a_side():
    rows = [(95, 101, 85, 101)]
    res = compare_tasks(["t"], *arrays(rows))
    want = stats.fisher_exact([[95, 85], [6, 16]], alternative="greater").pvalue
    assert res.tasks[0].p_regression == pytest.approx(want, rel=TIGHT)



def test_rank_order_keeps_the_five_groups_apart_whatever_the_p_values():
    from kalibra_action.stats.pertask import rank_order

    # one task a group, p-values in the opposite order to the groups: only the group decides
    code = np.array([0, 3, 1, 3, 3])
    delta = np.array([-50.0, -10, 40, 0.5, 0])  # a rise of half a point is still a rise
    p = np.array([0.4, 0.1, 0.5, 0.3, 0.05])
    assert rank_order(code, delta, p).tolist() == [0, 1, 2, 3, 4]


def test_drops_are_ranked_by_their_regression_p_value():
    """b (10/10 → 7/10) has the smaller p of a drop than a (6/10 → 5/10); neither is significant at
    fdr 1e-6, so with keep=1 the one kept is b. Ranked by the improvement p it would be a (b's is 1)."""
    res = compare_tasks(["a", "b"], *arrays([(6, 10, 5, 10), (10, 10, 7, 10)]), fdr=1e-6, keep=1)
    [top] = res.tasks
    assert top.task_id == "b"
    assert one_sided_p(10, 10, 7, 10) < one_sided_p(6, 10, 5, 10)


def test_a_verdict_carries_the_counts_and_kalibras_naive_label():
    rows = [(0, 200, 1, 200), (3, 4, 1, 2), (1, 2, 1, 2)]  # +0.5 pp, −25 pp, 0 pp
    res = compare_tasks(["up", "down", "same"], *arrays(rows))
    got = [(v.task_id, v.b_k, v.b_n, v.c_k, v.c_n, v.delta_pp, v.naive) for v in res.tasks]
    assert got == [("up", 0, 200, 1, 200, 0.5, "improved"),
                   ("down", 3, 4, 1, 2, -25.0, "regressed"),
                   ("same", 1, 2, 1, 2, 0.0, "unchanged")]
    assert [v.untestable for v in res.tasks] == [min_p(n1, n2) > 0.10 / 3 for _, n1, _, n2 in rows]
    assert all(type(v.untestable) is bool and type(v.b_k) is int for v in res.tasks)


def test_runs_needed_uses_the_median_pooled_pass_rate():
    """One task, 2/2 → 1/3, at fdr 0.01 (alone = 0.01 / 1): even 2/2 → 0/3 cannot reach p 0.01, so it is
    untestable; its pooled rate 3/5 = 0.6 is above the 0.5 floor."""
    assert min_p(2, 3) > 0.01
    res = compare_tasks(["t"], *arrays([(2, 2, 1, 3)]), fdr=0.01)
    assert res.untestable_tasks == 1
    assert res.runs_for_30pp == runs_needed(0.6, 30.0, 0.01) == fleiss_n(0.6, 0.3, 0.01)
    assert fleiss_n(0.6, 0.3, 0.01) != fleiss_n(0.75, 0.45, 0.01)  # the rate read from the wrong columns


def test_untestable_ids_are_capped_by_keep():
    rows = [(1, 2, 1, 2)] * 4
    names = ["a", "b", "c", "d"]
    assert compare_tasks(names, *arrays(rows), keep=2).untestable_ids == ("a", "b")
    assert compare_tasks(names, *arrays(rows)).untestable_ids == ("a", "b", "c", "d")


def test_min_p_switches_to_fisher_above_100_runs():
    assert min_p(101, 101) == pytest.approx(  # ~1.6e-61: abs=0, or pytest's 1e-12 would accept anything
        stats.fisher_exact([[101, 0], [0, 101]], alternative="greater").pvalue, rel=TIGHT, abs=0)
    assert min_p(3, 3, fisher_above=2) == pytest.approx(0.05, rel=TIGHT)  # Fisher: 1 / C(6, 3)


def test_small_rises_are_ranked_by_their_improvement_p_value():
    """Two rises under one point: a (0/100 → 1/150, +0.67 pp) and b (0/200 → 1/200, +0.5 pp). Both have a
    regression p of 1; b has the smaller improvement p (0.5, Fisher), so b is the one kept."""
    assert one_sided_p(1, 200, 0, 200) < one_sided_p(1, 150, 0, 100)
    res = compare_tasks(["a", "b"], *arrays([(0, 100, 1, 150), (0, 200, 1, 200)]), keep=1)
    assert [v.task_id for v in res.tasks] == ["b"]



def test_unchanged_tasks_are_ranked_by_their_improvement_p_value():
    """Two unchanged tasks (1/3 → 2/6 and 2/3 → 4/6, both 0 pp), mirror images: a's improvement p is b's
    regression p. Boschloo (scipy, the oracle) is not symmetric in unequal run counts, so b has the smaller
    improvement p and a the smaller regression p: under a cap of one, b is the one kept. Ranking unchanged
    tasks by the regression p (`delta <= 0` for `delta < 0`) would keep a."""
    from scipy import stats

    def boschloo(bk, bn, ck, cn):  # p of "the first rate is above the second"
        return stats.boschloo_exact([[bk, ck], [bn - bk, cn - ck]], alternative="greater").pvalue

    assert boschloo(4, 6, 2, 3) < boschloo(2, 6, 1, 3) - 0.01  # improvement p: b below a
    assert boschloo(1, 3, 2, 6) < boschloo(2, 3, 4, 6) - 0.01  # regression p: a below b
    res = compare_tasks(["a", "b"], *arrays([(1, 3, 2, 6), (2, 3, 4, 6)]), keep=1)
    assert [(v.task_id, v.delta_pp) for v in res.tasks] == [("b", 0.0)]
