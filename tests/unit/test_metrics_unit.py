"""Unit tests of the metrics on small built populations: fixed Kalibra bugs, fields, no-data paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kalibra_action.metrics import DEFAULT_METRICS, METRICS, all_fields, make_metric
from kalibra_action.metrics.base import StatsOptions
from kalibra_action.result import Direction
from kalibra_action.traces.population import Population, PopulationBuilder, SpanRow


def pop(label: str, rows: list[dict]) -> Population:
    b = PopulationBuilder(label)
    for i, r in enumerate(rows):
        b.add_trace(f"{label}-{i}", r.get("task", f"t{i}"), r.get("outcome", 1), cost=r.get("cost"),
                    input_tokens=r.get("tokens"), output_tokens=None, duration=r.get("duration"),
                    spans=r.get("spans", ()))
    return b.build()


def test_registry_and_fields() -> None:
    assert DEFAULT_METRICS[0] == "success_rate" and DEFAULT_METRICS[-1] == "task_attribution"
    assert len(METRICS) == 11  # Kalibra's ten, then task_attribution (issue 10)
    f = all_fields()
    for name in ("cost_delta_pct", "cost_delta_pct_lo", "cost_delta_pct_hi", "cost_delta_pct_mde",
                 "success_rate_delta_mde", "missing_tasks", "new_tasks", "span_regressions", "median_steps"):
        assert name in f
    assert f["cost_delta_pct"].tested and not f["cost_delta_pct_lo"].tested and not f["total_cost"].tested
    with pytest.raises(ValueError, match="unknown metric"):
        make_metric("costs")
    m = make_metric("cost", noise_threshold=1.0, options=StatsOptions(resamples=500))
    assert m.noise_threshold == 1.0 and m.options.resamples == 500


def test_bug4_zero_baseline_cost_is_undefined_not_a_pass() -> None:
    b = pop("b", [{"cost": 0.0}] * 40)
    c = pop("c", [{"cost": 1.0}] * 40)
    obs = make_metric("cost").compare(b, c)
    fv = obs.fields["cost_delta_pct"]
    assert obs.delta is None and fv.value is None
    assert fv.missing == "baseline median is 0, % change undefined"
    assert obs.fields["cost_delta_pct_hi"].value is None and obs.fields["cost_delta_pct_hi"].missing
    assert obs.fields["total_cost"].value == 40.0


def test_bug5_significant_rise_below_noise_floor() -> None:
    rng = np.random.default_rng(1)
    b = pop("b", [{"cost": v} for v in rng.normal(1.0, 0.02, 4001)])
    c = pop("c", [{"cost": v} for v in rng.normal(1.025, 0.02, 4001)])
    obs = make_metric("cost").compare(b, c)
    fv = obs.fields["cost_delta_pct"]
    assert 2.0 < fv.value < 3.0
    assert obs.direction == Direction.SAME  # Kalibra's rule: within the 3 % floor
    assert fv.significant is True and fv.tested  # but the CI excludes 0
    assert fv.ci[0] > 0 and fv.mde is not None and fv.mde < 1
    assert obs.fields["cost_delta_pct_lo"].value == fv.ci[0]


def test_bug6_mean_change_reported_for_two_peaked_data() -> None:
    rng = np.random.default_rng(2)
    b = [100.0] * 51 + [1000.0] * 49  # median sits on the low peak
    c = [100.0] * 80 + [1000.0] * 20
    obs = make_metric("token_usage").compare(pop("b", [{"tokens": v + rng.random()} for v in b]),
                                             pop("c", [{"tokens": v + rng.random()} for v in c]))
    md = obs.metadata
    assert md["mean_delta_pct"] < -40
    assert md["mean_ci_95"][1] < 0
    assert obs.metadata["ci_95"][0] <= 0 <= obs.metadata["ci_95"][1] or obs.direction != Direction.UPGRADE


def test_bug17_missing_and_new_tasks() -> None:
    b = pop("b", [{"task": "a", "outcome": 1}, {"task": "b", "outcome": 1}, {"task": "x", "outcome": -1}])
    c = pop("c", [{"task": "a", "outcome": 0}, {"task": "n", "outcome": 1}, {"task": "x", "outcome": 1}])
    obs = make_metric("trace_breakdown").compare(b, c)
    assert obs.fields["regressions"].value == 1.0
    assert obs.fields["missing_tasks"].value == 1.0 and obs.fields["new_tasks"].value == 2.0
    assert [e["task_id"] for e in obs.metadata["missing"]] == ["b"]
    assert [e["task_id"] for e in obs.metadata["new"]] == ["n", "x"]  # x: no known outcome in baseline
    assert obs.metadata["n_unchanged"] == 0
    entry = obs.metadata["regressions"][0]
    assert {k: entry[k] for k in ("task_id", "baseline", "current")} == {
        "task_id": "a", "baseline": {"success": 1, "total": 1}, "current": {"success": 0, "total": 1}}
    assert entry["significant"] is False and entry["verdict"] == "untestable"


def test_missing_message_names_the_side() -> None:
    b = pop("b", [{"cost": 1.0}] * 5)
    c = pop("c", [{}] * 120)
    obs = make_metric("cost").compare(b, c)
    assert obs.direction == Direction.NA
    msg = obs.fields["cost_delta_pct"].missing
    assert msg == "no cost data in current (0 of 120 traces have a cost)"
    assert obs.fields["avg_cost"].missing == msg and obs.fields["cost_delta_pct_mde"].value is None


def test_successes_only_no_success_message() -> None:
    obs = make_metric("cost_quality").compare(pop("b", [{"cost": 1.0}] * 3),
                                              pop("c", [{"cost": 1.0, "outcome": 0}] * 4))
    assert obs.metadata["no_data_reason"] == "no successes"
    assert obs.fields["cost_quality_delta_pct"].missing == \
        "no successful traces in current (0 of 4 traces succeeded)"


def test_success_rate_fields_and_z_significance() -> None:
    b = pop("b", [{"task": f"k{i % 20}", "outcome": int(i % 10 < 8)} for i in range(200)])
    c = pop("c", [{"task": f"k{i % 20}", "outcome": int(i % 10 < 5)} for i in range(200)])
    obs = make_metric("success_rate").compare(b, c)
    fv = obs.fields["success_rate_delta"]
    assert fv.value == -30.0 and fv.significant and obs.direction == Direction.DEGRADATION
    assert obs.metadata["ci_method"] == "cluster-tasks" and fv.ci[0] < -30 < fv.ci[1]  # issue 10: pooled CI
    assert obs.fields["success_rate"].value == 50.0
    assert obs.fields["success_rate_delta_mde"].value == fv.mde > 0


def test_error_rate_and_steps_from_spans() -> None:
    def spans(n: int, errors: int) -> list[SpanRow]:
        root = SpanRow("r", None, "root")
        return [root] + [SpanRow(f"s{i}", "r", "llm", error=i < errors) for i in range(n)]
    b = pop("b", [{"spans": spans(3, 0)} for _ in range(50)])
    c = pop("c", [{"spans": spans(5, 2)} for _ in range(50)])
    err = make_metric("error_rate").compare(b, c)
    assert err.delta == 33.33 and err.fields["error_rate_delta"].significant
    steps = make_metric("steps").compare(b, c)
    assert steps.delta == pytest.approx(66.7) and steps.fields["median_steps"].value == 5.0


def test_span_breakdown_flags_a_slower_span() -> None:
    rng = np.random.default_rng(3)

    def rows(scale: float) -> list[dict]:
        out = []
        for _ in range(60):
            d = int(rng.lognormal(0, 0.2) * scale * 1e9)
            out.append({"spans": [SpanRow("a", None, "tool", start_ns=1, end_ns=1 + d, cost=0.01)]})
        return out
    obs = make_metric("span_breakdown").compare(pop("b", rows(1.0)), pop("c", rows(2.0)))
    assert obs.fields["span_regressions"].value == 1.0
    assert obs.metadata["per_span"]["tool"]["direction"] == "regressed"
    assert obs.metadata["per_span"]["tool"]["ci_95"]["cost"] == (0.0, 0.0)


@pytest.mark.parametrize("name", list(DEFAULT_METRICS))
def test_huge_values_never_leak_inf(name: str) -> None:
    rows = [{"cost": 1e308, "tokens": 1e308, "duration": 1e308, "task": "t",
             "spans": [SpanRow("a", None, "s", cost=1e308, start_ns=1, end_ns=10**9)]}] * 31
    obs = make_metric(name).compare(pop("b", rows), pop("c", rows))

    def walk(x: object) -> None:
        if isinstance(x, float):
            assert math.isfinite(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list | tuple):
            for v in x:
                walk(v)
    walk([obs.delta, obs.baseline, obs.current, obs.metadata])
    for fv in obs.fields.values():
        walk([fv.value, fv.ci, fv.mde])
        assert (fv.value is None) == (fv.missing is not None)


def test_empty_populations_give_na_with_reasons() -> None:
    empty = pop("e", [])
    for name in DEFAULT_METRICS:
        obs = make_metric(name).compare(empty, empty)
        assert obs.direction == Direction.NA, name
        assert all(fv.value is None and fv.missing for fv in obs.fields.values()), name
