"""Pooling baseline runs: exclusions with reasons, the homogeneity test, flaky tasks and the MDE."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from kalibra_action.history.pool import _monte_carlo_p, effective_counts, homogeneity_p, mde_pp, pool_runs
from kalibra_action.history.summary import RunSummary, TaskCounts


def _brute_force_p(rows: tuple[tuple[int, int], ...]) -> float:
    """Every table with the observed margins, weighted by its multivariate hypergeometric probability."""
    big_k = sum(k for k, _ in rows)
    ns = [n for _, n in rows]
    observed = sum(k * k / n for k, n in rows)
    total = tail = 0.0
    for ks in itertools.product(*(range(n + 1) for n in ns)):
        if sum(ks) != big_k:
            continue
        w = math.prod(math.comb(n, k) for k, n in zip(ks, ns, strict=True))
        total += w
        if sum(k * k / n for k, n in zip(ks, ns, strict=True)) >= observed - 1e-12:
            tail += w
    return tail / total


@pytest.mark.parametrize("rows", [
    ((4, 4), (0, 4), (4, 4)), ((3, 4), (2, 4), (4, 4), (1, 4)), ((2, 3), (5, 5), (0, 2)),
    ((1, 6), (6, 6)), ((3, 5), (2, 4), (3, 3), (0, 2), (1, 3)),
])
def test_exact_homogeneity_p_matches_enumeration(rows) -> None:
    assert homogeneity_p(rows) == pytest.approx(_brute_force_p(rows), rel=1e-9)


def test_monte_carlo_fallback_agrees_with_the_exact_p() -> None:
    rows = ((3, 5), (2, 4), (3, 3), (0, 2), (1, 3))
    exact = _brute_force_p(rows)
    est = _monte_carlo_p(rows, sum(k for k, _ in rows), 7)
    assert abs(est - exact) < 4 * math.sqrt(exact * (1 - exact) / 20_000) + 1e-4


def test_no_variation_is_never_significant() -> None:
    assert homogeneity_p(((4, 4), (4, 4), (4, 4))) == 1.0
    assert homogeneity_p(((0, 4), (0, 5))) == 1.0
    assert homogeneity_p(((3, 4),)) == 1.0


def test_homogeneity_p_is_uniform_enough_under_the_null() -> None:
    """False-positive rate of the test at 5 % stays at or below 5 % (it is conservative, being discrete)."""
    rng = np.random.default_rng(1)
    hits = 0
    trials = 400
    for _ in range(trials):
        rows = tuple((int(rng.binomial(5, 0.6)), 5) for _ in range(8))
        hits += homogeneity_p(rows) <= 0.05
    assert hits / trials <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / trials)


def _run(counts: dict[str, tuple[int, int]], *, run_id: str, config: str | None = "a" * 64,
         commit: str | None = None) -> RunSummary:
    tasks = {t: TaskCounts(k, n - k) for t, (k, n) in counts.items()}
    known = sum(n for _, n in counts.values())
    rate = 100 * sum(k for k, _ in counts.values()) / known
    return RunSummary(tasks=tasks, traces=known, overall={"success_rate": rate}, run_id=run_id,
                      commit=commit or f"{int(run_id):07x}", config_hash=config, source=f"run-{run_id}")


def test_pooling_sums_consistent_runs_and_leaves_out_others_with_reasons() -> None:
    steady = {"s1": (4, 4), "s2": (3, 4)}
    runs = [
        _run(steady, run_id="1", config="b" * 64),           # config changed
        _run(steady, run_id="2", config=None),               # no hash recorded
        _run({"other": (1, 1)}, run_id="3"),                 # no task in common
        _run(steady, run_id="4"),
        _run(steady, run_id="4"),                            # the same run twice
        _run(steady, run_id="5"),
    ]
    pooled = pool_runs(runs)
    assert [r.pooled for r in pooled.runs] == [False, False, False, True, False, True]
    reasons = [r.reason or "" for r in pooled.runs]
    assert "config changed" in reasons[0]
    assert "no config hash" in reasons[1]
    assert "shares no task" in reasons[2]
    assert "already pooled" in reasons[4]
    assert pooled.counts == {"s1": (8, 8), "s2": (6, 8)}
    assert pooled.newest == {"s1": (4, 4), "s2": (3, 4)}
    d = pooled.as_dict()
    assert d["runs_pooled"] == 2 and len(d["excluded"]) == 4 and d["traces_pooled"] == 16


def test_a_task_that_flips_between_runs_is_flaky_and_a_steady_one_is_not() -> None:
    runs = [_run({"flip": (4 if i % 2 else 0, 4), "steady": (3 if i % 3 else 2, 4)}, run_id=str(i))
            for i in range(8)]
    pooled = pool_runs(runs, fdr=0.10)
    assert set(pooled.flaky) == {"flip"}
    assert pooled.tested == 2


def test_mde_shrinks_with_more_baseline_runs() -> None:
    one = mde_pp(0.9, 4, 4, 0.10 / 25)
    eight = mde_pp(0.9, 32, 4, 0.10 / 25)
    assert one is not None and eight is not None and eight < one
    assert mde_pp(0.9, 0, 4, 0.05) is None


def test_design_effect_shrinks_an_overdispersed_task_and_keeps_a_steady_one() -> None:
    runs = [_run({"wobbly": (4 if i % 2 else 0, 4), "steady": (4, 4)}, run_id=str(i)) for i in range(8)]
    pooled = pool_runs(runs)
    assert "steady" not in pooled.rho
    assert effective_counts(pooled, "steady", 32, 32, 0, 4) == (32, 32, 0, 4)
    rho, m = pooled.rho["wobbly"]
    assert 0 < rho <= 1 and m == 4
    bk, bn, ck, cn = effective_counts(pooled, "wobbly", 16, 32, 0, 4)
    assert bn < 32 and cn < 4 and ck == 0 and abs(bk / bn - 0.5) <= 0.1


def test_tables_past_the_work_budget_get_the_chi_square_approximation(monkeypatch) -> None:
    from kalibra_action.history import pool

    tables = [((5, 10), (9, 10)), ((2, 10), (8, 10), (5, 10)), ((5, 10), (9, 10))]
    exact, n_approx = pool.homogeneity_ps(tables, 42)
    assert n_approx == 0 and exact[0] == exact[2] == homogeneity_p(tables[0])
    monkeypatch.setattr(pool, "POOL_MAX_WORK", 0)
    approx, n_approx = pool.homogeneity_ps(tables, 42)
    assert n_approx == 2  # distinct tables
    assert approx.tolist() == pytest.approx([pool.chi_square_p(t) for t in tables])
    assert approx[1] == pytest.approx(exact[1], rel=0.5)  # the approximation is near the exact test
