"""Issue 10: the per-task CI of a pass-rate change — the vector form matches the scalar Newcombe interval,
it covers the true change about 95 % of the time, and every per_task item of the report carries it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kalibra_action.metrics import make_metric
from kalibra_action.stats.intervals import newcombe, newcombe_pp
from kalibra_action.traces.population import PopulationBuilder

RUNS = (5, 10)
RATES = (0.2, 0.5, 0.8)
REPS = 3000


def test_vector_form_equals_the_published_example_and_the_scalar_form() -> None:
    # Newcombe 1998 (method 10): 56/70 vs 48/80 → difference 0.2, CI 0.0524 to 0.3339
    lo, hi = newcombe_pp(np.array([48]), np.array([80]), np.array([56]), np.array([70]))
    assert (lo[0], hi[0]) == pytest.approx((5.24, 33.39), abs=0.01)
    rng = np.random.default_rng(5)
    n_b, n_c = rng.integers(1, 60, 200), rng.integers(1, 60, 200)
    k_b, k_c = rng.integers(0, n_b + 1), rng.integers(0, n_c + 1)
    lo, hi = newcombe_pp(k_b, n_b, k_c, n_c)
    for i in range(200):
        r = newcombe(int(k_b[i]), int(n_b[i]), int(k_c[i]), int(n_c[i]))
        assert (lo[i], hi[i]) == (r.lo, r.hi)


def test_coverage_on_a_small_grid_is_95_percent_within_monte_carlo_error() -> None:
    """Mean coverage over n ∈ {5, 10} × 9 rate pairs, 3,000 draws a cell (bench/stats_validation.py runs
    the full grid). The tolerance is 3 Monte-Carlo standard errors of that mean around 94–96 %."""
    rng = np.random.default_rng(20261129)
    cover = []
    for n in RUNS:
        for pb in RATES:
            for pc in RATES:
                bk, ck = rng.binomial(n, pb, REPS), rng.binomial(n, pc, REPS)
                lo, hi = newcombe_pp(bk, np.full(REPS, n), ck, np.full(REPS, n))
                true = (pc - pb) * 100
                cover.append(float(np.mean((lo <= true + 1e-9) & (true - 1e-9 <= hi))))
    c = np.array(cover)
    se = math.sqrt(float(np.sum(c * (1 - c) / REPS))) / c.size
    assert 0.94 - 3 * se <= c.mean() <= 0.96 + 3 * se, (c.mean(), se)
    assert c.min() >= 0.88  # no cell far below: Newcombe's worst at these n is about 0.91


def test_every_per_task_item_has_its_ci_and_medians() -> None:
    b = PopulationBuilder("b")
    c = PopulationBuilder("c")
    # task "a": 8/10 → 2/10; tokens 100..109 → 50..59 (medians 104.5 → 54.5); cost only in the baseline
    for r in range(10):
        b.add_trace(f"b{r}", "a", int(r < 8), cost=0.5, input_tokens=100 + r, output_tokens=None,
                    duration=float(r), spans=())
        c.add_trace(f"c{r}", "a", int(r < 2), cost=None, input_tokens=50 + r, output_tokens=None,
                    duration=float(2 * r), spans=())
    obs = make_metric("trace_breakdown").compare(b.build(), c.build())
    (item,) = obs.metadata["per_task"]
    ref = newcombe(8, 10, 2, 10)
    assert item["delta_pp"] == -60.0 and item["delta_ci_pp"] == [ref.lo, ref.hi]
    assert item["delta_ci_pp"][0] <= -60.0 <= item["delta_ci_pp"][1]
    assert item["ci_method"] == "newcombe-hybrid"
    med = item["medians"]
    tokens_pct = round((54.5 / 104.5 - 1) * 100, 1)
    assert med["tokens"] == {"baseline": 104.5, "current": 54.5, "delta_pct": tokens_pct}
    assert med["cost"] == {"baseline": 0.5, "current": None, "delta_pct": None}
    # durations 0..9 → 0..18: medians 4.5 → 9.0, +100 %
    assert med["duration"] == {"baseline": 4.5, "current": 9.0, "delta_pct": 100.0}
