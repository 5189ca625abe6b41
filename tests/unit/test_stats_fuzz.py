"""Hypothesis over the statistics with extreme values: nothing raises but InputError, nothing is NaN or inf.

Values: 0, -0.0, denormals (5e-324), the float limit (1e300, 1.7e308), negatives, ties, one value, all
equal, empty sides, huge next to tiny. Three levels: the stats functions directly, every metric through
engine.compare on Populations, and the whole run (trace files → execute → the strict JSON report).
The runs are derandomized (reproducible in CI) and kept small (resamples=200) so the suite stays fast.
"""

from __future__ import annotations

import dataclasses
import json
import math
from enum import Enum

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalibra_action.engine import CompareOptions, compare
from kalibra_action.errors import InputError
from kalibra_action.gates import parse_gate
from kalibra_action.metrics import METRICS, all_fields
from kalibra_action.metrics.base import StatsOptions
from kalibra_action.report.json import to_json
from kalibra_action.result import Result
from kalibra_action.run import RunRequest, execute
from kalibra_action.stats import distributions as D
from kalibra_action.stats import intervals, paired, pertask
from kalibra_action.stats.bca import acceleration, bca_mean_pct, bca_median_pct
from kalibra_action.stats.bootstrap import bootstrap_pct, mean, median, pct_delta, total, two_proportion_z
from kalibra_action.traces.population import (
    OUTCOME_FAILURE,
    OUTCOME_SUCCESS,
    OUTCOME_UNKNOWN,
    PopulationBuilder,
    SpanRow,
)

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW = settings(FUZZ, max_examples=25)
EXTREME = [0.0, -0.0, 5e-324, 1e-310, 2.2e-308, 1e-300, 1.0, 3.0, 1e15, 1e300, -1e300, 1.7e308, -1.7e308]
STATS = StatsOptions(resamples=200)

extreme = st.one_of(st.sampled_from(EXTREME), st.floats(allow_nan=False, allow_infinity=False),
                    st.floats(min_value=0, max_value=1e6, allow_nan=False))
samples = st.one_of(
    st.lists(extreme, max_size=12),
    st.builds(lambda v, n: [v] * n, extreme, st.integers(0, 12)),  # all equal, one value, empty
    st.lists(st.sampled_from(EXTREME), min_size=1, max_size=40),  # many duplicates
)


def assert_finite(value: object, where: str = "result") -> None:
    """Every number reachable from `value` is finite (None is fine): NaN and inf must not leak."""
    if value is None or isinstance(value, bool | str | Enum):
        return
    if isinstance(value, int | np.integer):
        return
    if isinstance(value, float | np.floating):
        assert math.isfinite(value), f"{where} = {value}"
    elif isinstance(value, dict):
        for k, v in value.items():
            assert_finite(v, f"{where}.{k}")
    elif isinstance(value, list | tuple | set | frozenset):
        for i, v in enumerate(value):
            assert_finite(v, f"{where}[{i}]")
    elif isinstance(value, np.ndarray):
        assert_finite(value.tolist(), where)
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            assert_finite(getattr(value, f.name), f"{where}.{f.name}")


# --- the stats functions directly ------------------------------------------------------------------------

@FUZZ
@given(samples, samples, st.sampled_from(["median", "mean"]))
def test_bootstrap_and_bca_take_any_finite_values(base, curr, stat):
    b, c = np.array(base, float), np.array(curr, float)
    boot = bootstrap_pct(b, c, stat, resamples=200)
    assert_finite(boot, "bootstrap")
    if boot is not None:
        assert boot.ci[0] <= boot.ci[1] and boot.gate_ci[0] <= boot.gate_ci[1]
        assert_finite(boot.mde, "mde")
    rng = np.random.default_rng(0)
    with np.errstate(all="ignore"):  # the test's own replicates may overflow; the functions must cope
        reps_b = b[rng.integers(0, max(b.size, 1), (50, b.size))].mean(axis=1) if b.size else np.zeros(50)
        reps_c = c[rng.integers(0, max(c.size, 1), (50, c.size))].mean(axis=1) if c.size else np.zeros(50)
        for fn in (bca_mean_pct, bca_median_pct):
            assert_finite(fn(b, c, reps_b, reps_c), fn.__name__)
    for x in (median(b), mean(b), total(b), pct_delta(median(b), median(c))):
        assert_finite(x)
    assert_finite(acceleration([b, c]), "acceleration")


@settings(FUZZ, max_examples=20)
@given(st.lists(extreme, min_size=1, max_size=6), st.lists(extreme, min_size=1, max_size=6),
       st.sampled_from([401, 402, 500, 1001]))
def test_bootstrap_paths_for_large_samples(base, curr, n):
    """n >= 400 even and n >= 500 take the exact-median and normal-mean paths: same guarantees."""
    b, c = np.resize(np.array(base, float), n), np.resize(np.array(curr, float), n + 1)
    for stat in ("median", "mean"):
        boot = bootstrap_pct(b, c, stat, resamples=200)
        assert_finite(boot, f"bootstrap {stat}")


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(0, 60), st.integers(0, 60)),
                max_size=8))
def test_rate_intervals_and_per_task_tests_take_any_counts(rows):
    tables = [(min(bk, bn), bn, min(ck, cn), cn) for bk, bn, ck, cn in rows]
    for bk, bn, ck, cn in tables:
        assert_finite(two_proportion_z(bn, bk, cn, ck))
        one = [np.array([x]) for x in (bk, bn, ck, cn)]
        assert_finite(intervals.pooled_interval(*one, tasks_match=True))
        assert_finite(intervals.wilson(bk, bn))
    usable = [t for t in tables if t[1] and t[3]]
    if usable:
        cols = [np.array(col) for col in zip(*usable, strict=True)]
        res = pertask.compare_tasks([f"t{i}" for i in range(len(usable))], *cols)
        assert_finite(res, "compare_tasks")
        b_rates = cols[0] / cols[1]
        c_rates = cols[2] / cols[3]
        assert_finite(intervals.paired_tasks(b_rates, c_rates), "paired_tasks")
        assert_finite(intervals.pooled_interval(*cols, tasks_match=True), "pooled_interval")
        assert_finite(intervals.task_weighted_interval(*cols), "task_weighted_interval")
        assert_finite(intervals.mix_shift(*cols), "mix_shift")
        assert_finite(intervals.newcombe_pp(*cols), "newcombe_pp")
    assert_finite(D.false_discovery_control(np.array([p for p in np.linspace(0, 1, len(rows))])))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 11), extreme), max_size=40),
       st.lists(st.tuples(st.integers(0, 11), extreme), max_size=40))
def test_paired_ratio_takes_any_values(brows, crows):
    names = tuple(f"t{i}" for i in range(12))

    def cols(rows):
        task = np.array([t for t, _ in rows], dtype=np.int64)
        return np.array([v for _, v in rows], float), task

    bv, bt = cols(brows)
    cv, ct = cols(crows)
    with np.errstate(all="ignore"):
        r = paired.paired_ratio(bv, bt, names, cv, ct, names)
    assert_finite(r, "paired_ratio")


@FUZZ
@given(st.floats(0, 1), st.floats(1e-3, 1e6), st.floats(-1e6, 1e6))
def test_distributions_stay_finite(q, df, x):
    assert_finite([D.norm_cdf(x), D.norm_sf(x), D.t_cdf(x, df), D.t_sf(x, df)])
    if 0 < q < 1:
        assert_finite([D.norm_ppf(q), D.norm_isf(q), D.t_ppf(q, df), D.t_isf(q, df)])


# --- every metric through the engine ---------------------------------------------------------------------

span = st.builds(lambda name, cost, tin, tout, start, length, err: SpanRow(
    None, None, name, cost, tin, tout, start, None if length is None else start + length, err),
    st.sampled_from(["plan", "search", "edit"]), *[st.none() | extreme] * 3, st.integers(0, 1 << 40),
    st.none() | st.integers(0, 1 << 40), st.booleans())
trace = st.tuples(st.integers(0, 3), st.sampled_from([OUTCOME_SUCCESS, OUTCOME_FAILURE, OUTCOME_UNKNOWN]),
                  st.none() | extreme, st.none() | extreme, st.none() | extreme, st.none() | extreme,
                  st.lists(span, max_size=3))
side = st.one_of(st.lists(trace, max_size=14), st.builds(lambda t, n: [t] * n, trace, st.integers(1, 14)))


def build(label, rows):
    b = PopulationBuilder(label=label, files=(f"{label}.jsonl",), format="flat")
    for i, (task, outcome, cost, tin, tout, dur, spans) in enumerate(rows):
        b.add_trace(f"{label}-{i}", f"task-{task}", outcome, cost=cost, input_tokens=tin, output_tokens=tout,
                    duration=dur, spans=spans)
    return b.build()


GATES = tuple(parse_gate(f"{name} <= 10", all_fields()) for name in all_fields())


def check_result(result: Result) -> None:
    assert_finite(result.observations, "observations")
    assert_finite(result.gates, "gates")
    json.loads(to_json(result))  # strict: allow_nan=False inside


@SLOW
@given(side, side)
def test_every_metric_takes_extreme_populations(brows, crows):
    options = CompareOptions(metrics=tuple(METRICS), gates=GATES, stats=STATS)
    try:
        result = compare(build("baseline", brows), build("current", crows), options)
    except InputError:
        return
    check_result(result)


# --- the whole run: trace files → execute → JSON report ---------------------------------------------------

def jsonl_value(v: float) -> object:
    return int(v) if v.is_integer() and abs(v) < 1e18 and not (v == 0 and math.copysign(1, v) < 0) else v


def row(i, task, outcome, cost, tin, tout, dur, spans):
    out = {"trace_id": f"t{i}", "outcome": {OUTCOME_SUCCESS: "success", OUTCOME_FAILURE: "failure"}.get(
        outcome, "unknown"), "metadata": {"task_id": f"task-{task}"}}
    for key, value in (("cost", cost), ("input_tokens", tin), ("output_tokens", tout), ("duration_s", dur)):
        if value is not None:
            out[key] = jsonl_value(value)
    keys = ("name", "cost", "input_tokens", "output_tokens", "start_ns", "end_ns", "error")
    out["spans"] = [{k: getattr(s, k) for k in keys if getattr(s, k) is not None} for s in spans]
    return out


@SLOW
@given(side, side)
def test_the_whole_run_takes_extreme_trace_files(tmp_path_factory, brows, crows):
    ws = tmp_path_factory.mktemp("fuzz")
    for name, rows in (("baseline", brows), ("current", crows)):
        (ws / f"{name}.jsonl").write_text("".join(json.dumps(row(i, *r)) + "\n" for i, r in enumerate(rows)))
    (ws / "kalibra.yml").write_text("fields:\n  task_id: metadata.task_id\nrequire:\n"
                                    "  - cost_delta_pct <= 30\n  - success_rate_delta >= -5\n"
                                    "  - duration_mean_delta_pct <= 50\n  - regressions <= 0\n")
    req = RunRequest(config_path="kalibra.yml", baseline="baseline.jsonl", current="current.jsonl",
                     resamples=200, base_dir=ws)
    try:
        result = execute(req)
    except InputError:
        return
    check_result(result)


@pytest.mark.parametrize("values", [[5e-324] * 5, [1.7e308] * 5, [-0.0, 0.0, -0.0], [1e300, 5e-324, 1e300],
                                    [1.7976931348623157e308] * 3])
def test_pinned_extremes_through_every_metric(values):
    rows = [(i % 2, OUTCOME_SUCCESS, v, v, v, v, [SpanRow(None, None, "plan", v, v, v, 0, 10)])
            for i, v in enumerate(values)]
    check_result(compare(build("baseline", rows), build("current", rows[::-1] * 2),
                         CompareOptions(metrics=tuple(METRICS), gates=GATES, stats=STATS)))


@pytest.mark.parametrize(("low", "high"), [(5e-324, 1e300), (1e300, 5e-324), (1e-300, 1.7e308)])
def test_paired_ratio_of_values_ten_to_the_600_apart(low, high):
    """The geometric-mean ratio exp(mean log diff) overflows a float: no OverflowError, and no inf."""
    task = np.repeat(np.arange(12), 3)
    names = tuple(f"t{i}" for i in range(12))
    r = paired.paired_ratio(np.full(36, low), task, names, np.full(36, high), task, names)
    assert_finite(r, "paired_ratio")
