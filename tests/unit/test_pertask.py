"""Per-task exact tests, BH adjustment, chance regressions and untestable tasks."""

from __future__ import annotations

import numpy as np
import pytest

from kalibra_action.stats.pertask import bh_adjust, compare_tasks, min_p, one_sided_p, prob_drop


def test_smallest_reachable_p_values_match_the_exact_tests():
    assert min_p(2, 2) == pytest.approx(0.0625)  # Boschloo, 2 runs a side
    assert min_p(5, 5) == pytest.approx(0.5**10)
    assert min_p(200, 200, fisher_above=100) < 1e-50  # Fisher path


def test_one_sided_p_is_large_for_an_improvement_and_small_for_a_clear_drop():
    assert one_sided_p(2, 10, 9, 10) > 0.5
    assert one_sided_p(10, 10, 2, 10) < 0.001


def test_bh_matches_a_hand_computation():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    # sorted: .01 .03 .04 .5 → .01*4/1=.04, .03*4/2=.06, .04*4/3=.0533 → monotone .04 .0533 .0533 .5
    np.testing.assert_allclose(bh_adjust(p), [0.04, 0.16 / 3, 0.16 / 3, 0.5])
    assert bh_adjust(np.array([])).size == 0


def test_prob_drop_agrees_with_simulation():
    rng = np.random.default_rng(0)
    b = rng.binomial(4, 0.7, 200_000) / 4
    c = rng.binomial(6, 0.7, 200_000) / 6
    assert prob_drop(4, 6, 0.7) == pytest.approx(np.mean(c < b), abs=0.005)
    assert prob_drop(4, 4, 1.0) == 0.0


def _spread(rng, n, drop=()):
    p = np.linspace(0.2, 0.95, 25)
    p2 = p.copy()
    p2[list(drop)] -= 0.3
    bk, ck = rng.binomial(n, p), rng.binomial(n, p2)
    names = [f"t{i}" for i in range(25)]
    return compare_tasks(names, bk, np.full(25, n), ck, np.full(25, n))


def test_no_change_rarely_flags_while_the_naive_count_is_large():
    rng = np.random.default_rng(7)
    runs = [_spread(rng, 10) for _ in range(120)]
    flagged = np.mean([r.significant_regressions > 0 for r in runs])
    naive = np.mean([sum(t.naive == "regressed" for t in r.tasks) for r in runs])
    assert flagged <= 0.12  # statistics.md: .059 at 25 × 10
    assert naive > 6  # Kalibra's count: ~9.8
    expected = np.mean([r.expected_regressions for r in runs])
    assert expected == pytest.approx(naive, rel=0.15)


def test_planted_drops_are_found_with_the_expected_power():
    rng = np.random.default_rng(11)
    hits = 0
    for _ in range(150):
        res = _spread(rng, 10, drop=(20, 22, 24))
        hits += any(res.tasks[i].verdict == "regressed" for i in (20, 22, 24))
    assert 0.15 <= hits / 150 <= 0.45  # statistics.md: .276


def test_two_runs_a_side_are_untestable_and_say_how_many_runs_are_needed():
    names = ["a", "b", "c"]
    two = np.array([2, 2, 2])
    res = compare_tasks(names, np.array([2, 2, 1]), two, np.array([0, 2, 1]), two)
    assert res.untestable_tasks == 3
    assert res.significant_regressions == 0
    assert res.tasks[0].verdict == "untestable" and res.tasks[0].naive == "regressed"
    assert res.runs_for_30pp is not None and res.runs_for_30pp > 10


@pytest.mark.parametrize(("n1", "n2"), [(3, 5), (8, 8), (40, 25), (100, 100), (90, 110), (100, 30)])
def test_grid_boschloo_matches_scipy(n1, n2):
    from scipy import stats
    rng = np.random.default_rng(n1 * 1000 + n2)
    tables = [(int(0.8 * n1), int(0.5 * n2)), (int(0.9 * n1), int(0.8 * n2))]
    tables += [(int(rng.integers(0, n1 + 1)), int(rng.integers(0, n2 + 1))) for _ in range(2)]
    for x1, x2 in tables:
        ref = stats.boschloo_exact([[x1, x2], [n1 - x1, n2 - x2]], alternative="greater").pvalue
        assert one_sided_p(x1, n1, x2, n2) == pytest.approx(ref, rel=1e-4, abs=1e-300)


def test_many_tasks_without_change_flag_almost_none():
    rng = np.random.default_rng(2)
    m = 300
    p = rng.uniform(0.05, 0.99, m)
    bn, cn = rng.integers(18, 23, m), rng.integers(18, 23, m)
    res = compare_tasks([f"t{i}" for i in range(m)], rng.binomial(bn, p), bn, rng.binomial(cn, p), cn)
    assert res.significant_regressions <= 2
    assert sum(t.naive == "regressed" for t in res.tasks) > 80  # Kalibra's count is large


def test_keep_caps_the_verdicts_not_the_counts() -> None:
    rng = np.random.default_rng(7)
    m, n = 3_000, 6
    bk, ck = rng.binomial(n, 0.7, m), rng.binomial(n, 0.7, m)
    ck[:40] = 0  # planted drops
    bk[:40] = n
    names = [f"t{i:05d}" for i in range(m)]
    full = compare_tasks(names, bk, np.full(m, n), ck, np.full(m, n))
    capped = compare_tasks(names, bk, np.full(m, n), ck, np.full(m, n), keep=50)
    assert capped.truncated and not full.truncated and len(capped.tasks) == 50 and capped.n_tasks == m
    for attr in ("significant_regressions", "significant_improvements", "expected_regressions",
                 "untestable_tasks", "runs_for_30pp"):
        assert getattr(capped, attr) == getattr(full, attr)
    sig = {v.task_id for v in full.tasks if v.verdict == "regressed"}
    assert sig and sig <= {v.task_id for v in capped.tasks}  # the worst are kept
    assert all(v.delta_pp < 0 for v in capped.tasks)


def test_boschloo_past_the_work_budget_falls_back_to_fisher(monkeypatch):
    from kalibra_action.stats import pertask

    names = ["a", "b"]
    counts = [np.array(x) for x in ([9, 30], [10, 40], [2, 25], [10, 40])]
    full = compare_tasks(names, *counts)
    monkeypatch.setattr(pertask, "BOSCHLOO_MAX_WORK", 0)
    pertask.one_sided_p.cache_clear()
    cheap = compare_tasks(names, *counts)
    fisher = one_sided_p(30, 40, 25, 40, -1)  # task b: 30/40 → 25/40, Fisher's test
    assert cheap.tasks[1].p_regression == pytest.approx(fisher)
    assert cheap.tasks[1].p_regression >= full.tasks[1].p_regression  # Fisher is the conservative one
