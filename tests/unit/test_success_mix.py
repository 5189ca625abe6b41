"""Issue 10, task mix: the pooled change and its own CI, the task-weighted change and its CI, the
mix-shift flag. Expected numbers are derived here by hand from the counts, not copied from our output."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from kalibra_action.gates import evaluate_gate, parse_gate
from kalibra_action.metrics import make_metric
from kalibra_action.traces.population import Population, PopulationBuilder


def counts_pop(label: str, tasks: dict[str, tuple[int, int]]) -> Population:
    """A population with k passes out of n runs for each task (outcomes only)."""
    b = PopulationBuilder(label)
    for task, (k, n) in tasks.items():
        for r in range(n):
            b.add_trace(f"{label}-{task}-{r}", task, int(r < k), cost=None, input_tokens=None,
                        output_tokens=None, duration=None, spans=())
    return b.build()


def the_issue_set() -> tuple[Population, Population]:
    """15 easy tasks × 80 runs a side, 85 % → 95 %; 10 hard tasks × 20 runs a side, 90 % → 40 %."""
    base = {**{f"easy{i:02d}": (68, 80) for i in range(15)}, **{f"hard{i:02d}": (18, 20) for i in range(10)}}
    cur = {**{f"easy{i:02d}": (76, 80) for i in range(15)}, **{f"hard{i:02d}": (8, 20) for i in range(10)}}
    return counts_pop("b", base), counts_pop("c", cur)


def test_the_issue_example_gets_a_pooled_ci_around_its_point_and_a_mix_shift_flag() -> None:
    obs = make_metric("success_rate").compare(*the_issue_set())
    n_all = 15 * 80 + 10 * 20
    pooled = (15 * 76 + 10 * 8 - 15 * 68 - 10 * 18) / n_all  # = 20 / 1400
    weighted = (15 * 0.10 + 10 * -0.50) / 25  # each task once
    t = stats.t.ppf(0.975, 24)
    # with equal runs per task on both sides the pooled residual of task t is (n_t / N)(d_t − D)
    e = np.array([80 / n_all * (0.10 - pooled)] * 15 + [20 / n_all * (-0.50 - pooled)] * 10)
    half = t * math.sqrt(25 / 24 * float(np.sum(e * e)))
    fv = obs.fields["success_rate_delta"]
    assert fv.value == pytest.approx(pooled * 100, abs=0.005)
    assert fv.ci == pytest.approx(((pooled - half) * 100, (pooled + half) * 100), abs=0.01)
    assert fv.ci[0] <= fv.value <= fv.ci[1] and not fv.significant
    assert obs.metadata["ci_95"] == fv.ci and obs.metadata["ci_method"] == "cluster-tasks"
    assert fv.mde == pytest.approx(2.80 * half / t * 100, abs=0.01)  # 2.80 standard errors

    tw = obs.fields["task_weighted_success_rate_delta"]
    d = np.array([0.10] * 15 + [-0.50] * 10)
    tw_half = t * d.std(ddof=1) / 5
    assert tw.value == pytest.approx(weighted * 100, abs=0.005)
    assert tw.ci == pytest.approx(((weighted - tw_half) * 100, (weighted + tw_half) * 100), abs=0.01)
    assert tw.significant and tw.ci[1] < 0 and tw.mde == pytest.approx(2.80 * tw_half / t * 100, abs=0.01)
    assert obs.fields["task_weighted_success_rate"].value == pytest.approx((15 * 95 + 10 * 40) / 25)
    assert obs.fields["task_weighted_success_rate_delta_lo"].value == tw.ci[0]

    mix = obs.metadata["mix_shift"]
    g = e - (d - weighted) / 25
    g_half = t * math.sqrt(25 / 24 * float(np.sum(g * g)))
    assert mix["flag"] is True
    assert mix["pooled_delta_pp"] == fv.value and mix["task_weighted_delta_pp"] == tw.value
    assert mix["difference_pp"] == pytest.approx((pooled - weighted) * 100, abs=0.005)
    assert mix["difference_ci_95"] == pytest.approx(((pooled - weighted - g_half) * 100,
                                                     (pooled - weighted + g_half) * 100), abs=0.01)
    assert "+1.4 pp" in mix["text"] and "-14.0 pp" in mix["text"]
    assert mix["text"] in obs.warnings


def test_a_gate_on_the_task_weighted_change_fails_where_the_pooled_one_cannot() -> None:
    obs = make_metric("success_rate").compare(*the_issue_set())
    known = obs.fields
    pooled_gate = evaluate_gate(parse_gate("success_rate_delta >= -5", known),
                                obs.fields["success_rate_delta"])
    tw_gate = evaluate_gate(parse_gate("task_weighted_success_rate_delta >= -5", known),
                            obs.fields["task_weighted_success_rate_delta"])
    assert pooled_gate.passed and pooled_gate.ci[0] <= pooled_gate.actual <= pooled_gate.ci[1]
    assert not tw_gate.passed and tw_gate.status == "fail"


def test_equal_runs_per_task_is_no_mix_shift() -> None:
    base = {f"t{i:02d}": (i % 9 + 1, 10) for i in range(12)}
    cur = {f"t{i:02d}": ((i * 7) % 10, 10) for i in range(12)}
    obs = make_metric("success_rate").compare(counts_pop("b", base), counts_pop("c", cur))
    mix = obs.metadata["mix_shift"]
    # every task has 10 runs on both sides: the pooled rate is the mean of the task rates
    assert mix["pooled_delta_pp"] == pytest.approx(mix["task_weighted_delta_pp"], abs=0.01)
    assert mix["flag"] is False and "agree within noise" in mix["text"]


def test_few_tasks_are_not_tested_for_a_mix_shift_and_get_an_adjusted_wald_interval() -> None:
    base = {"a": (9, 10), "b": (1, 40)}
    cur = {"a": (3, 10), "b": (2, 40)}
    obs = make_metric("success_rate").compare(counts_pop("b", base), counts_pop("c", cur))
    mix = obs.metadata["mix_shift"]
    assert mix["flag"] is False and "not tested" in mix["text"] and mix["difference_pp"] is None
    tw = obs.fields["task_weighted_success_rate_delta"]
    point = ((0.3 - 0.9) + (2 / 40 - 1 / 40)) / 2
    runs = ((9, 10), (1, 40), (3, 10), (2, 40))  # baseline a, b; current a, b
    var = sum((k + 1) / (n + 2) * (1 - (k + 1) / (n + 2)) / (n + 2) for k, n in runs) / 4
    half = stats.norm.ppf(0.975) * math.sqrt(var)
    assert obs.metadata["task_weighted_ci_method"] == "adjusted-wald"
    assert tw.ci == pytest.approx(((point - half) * 100, (point + half) * 100), abs=0.01)


def test_no_common_task_leaves_the_task_weighted_fields_without_data() -> None:
    obs = make_metric("success_rate").compare(counts_pop("b", {"a": (3, 10)}),
                                              counts_pop("c", {"z": (5, 10)}))
    assert obs.fields["success_rate_delta"].value == 20.0
    for name in ("task_weighted_success_rate_delta", "task_weighted_success_rate"):
        assert obs.fields[name].value is None and "both sides" in obs.fields[name].missing


TASK = st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40), st.integers(0, 40))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TASK, min_size=1, max_size=30), st.integers(0, 3))
def test_every_point_lies_inside_its_own_interval(rows: list[tuple[int, int, int, int]], drop: int) -> None:
    base = {f"t{i:02d}": (min(bk, bn), bn) for i, (bk, bn, _, _) in enumerate(rows) if bn}
    cur = {f"t{i:02d}": (min(ck, cn), cn) for i, (_, _, ck, cn) in enumerate(rows) if cn and i >= drop}
    if not base or not cur:
        return
    b, c = counts_pop("b", base), counts_pop("c", cur)
    obs = make_metric("success_rate").compare(b, c)
    for name in ("success_rate_delta", "task_weighted_success_rate_delta"):
        fv = obs.fields[name]
        if fv.value is not None and fv.ci is not None:
            assert fv.ci[0] <= fv.value <= fv.ci[1], (name, fv)
    mix = obs.metadata["mix_shift"]
    if mix["difference_ci_95"] is not None:
        lo, hi = mix["difference_ci_95"]
        assert lo <= mix["difference_pp"] <= hi
    breakdown = make_metric("trace_breakdown").compare(b, c)
    for item in breakdown.metadata["per_task"]:
        lo, hi = item["delta_ci_pp"]
        assert lo <= item["delta_pp"] <= hi, item
