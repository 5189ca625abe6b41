"""Issue 4 wired into the metrics: per-task exact tests + BH, success-rate interval choice, BCa for the
continuous metrics, the mean change as a gate field, the paired per-task ratio, and the otel_genai
example. Seeded, small populations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from kalibra_action.gates import evaluate_gate, parse_gate
from kalibra_action.metrics import all_fields, make_metric
from kalibra_action.result import GateStatus
from kalibra_action.stats.intervals import newcombe
from kalibra_action.traces.population import Population, PopulationBuilder

OTEL = Path(__file__).resolve().parents[1] / "data" / "kalibra-examples" / "otel_genai" / "traces.jsonl"


def outcomes(label: str, rates: dict[str, float], runs: int, rng: np.random.Generator,
             cost_scale: dict[str, float] | None = None) -> Population:
    b = PopulationBuilder(label)
    for task, p in rates.items():
        for r in range(runs):
            cost = None if cost_scale is None else float(cost_scale[task] * rng.lognormal(0, 0.3))
            b.add_trace(f"{label}-{task}-{r}", task, int(rng.random() < p), cost=cost, input_tokens=None,
                        output_tokens=None, duration=None, spans=())
    return b.build()


RATES = {f"t{i:02d}": p for i, p in enumerate(np.linspace(0.55, 0.95, 25))}


def test_new_field_names_are_published() -> None:
    f = all_fields()
    for name in ("significant_regressions", "significant_improvements", "expected_regressions",
                 "untestable_tasks", "missing_tasks", "new_tasks", "success_rate_delta_lo",
                 "success_rate_delta_hi", "success_rate_delta_mde", "cost_delta_pct_hi",
                 "cost_mean_delta_pct", "cost_mean_delta_pct_lo", "token_mean_delta_pct_hi",
                 "duration_mean_delta_pct_mde", "cost_paired_pct", "token_paired_pct", "steps_paired_pct",
                 "cost_quality_mean_delta_pct", "token_efficiency_paired_pct"):
        assert name in f, name
    assert f["cost_mean_delta_pct"].tested and not f["cost_paired_pct"].tested
    assert not f["significant_regressions"].tested


def test_planted_drops_are_significant_and_chance_drops_are_not() -> None:
    rng = np.random.default_rng(3)
    dropped = {"t20": 0.25, "t22": 0.3, "t24": 0.3}
    base = outcomes("b", RATES, 20, rng)
    same = make_metric("trace_breakdown").compare(base, outcomes("c", RATES, 20, rng))
    drop = make_metric("trace_breakdown").compare(base, outcomes("c", {**RATES, **dropped}, 20, rng))

    f = same.fields
    assert f["significant_regressions"].value == 0 and f["significant_improvements"].value == 0
    assert f["regressions"].value >= 5  # Kalibra's naive count: noise
    assert 0.5 * f["regressions"].value < f["expected_regressions"].value < 2 * f["regressions"].value
    assert same.metadata["expected_regressions"] == f["expected_regressions"].value
    assert f["untestable_tasks"].value == 0 and same.metadata["untestable"] == []

    md = drop.metadata
    assert drop.fields["significant_regressions"].value == len(md["significant_regressions"])
    assert set(dropped) <= set(md["significant_regressions"])  # all three found at 20 runs a side
    assert len(set(md["significant_regressions"]) - set(dropped)) <= 1  # FDR 10 %: rare false flags
    assert [e["task_id"] for e in md["per_task"][:len(md["significant_regressions"])]] == \
        md["significant_regressions"]  # regressions first
    assert md["fdr"] == 0.10 and md["n_tested"] == 25 and len(md["per_task"]) == 25
    flagged = {e["task_id"] for e in md["regressions"] if e["significant"]}
    assert flagged == set(md["significant_regressions"])
    assert all(0 <= e["q"] <= 1 and e["p"] <= e["q"] for e in md["regressions"])


def test_fdr_comes_from_the_metric_config() -> None:
    rng = np.random.default_rng(5)
    b = outcomes("b", RATES, 6, rng)
    c = outcomes("c", {**RATES, "t24": 0.4, "t23": 0.4}, 6, rng)
    strict = make_metric("trace_breakdown", fdr=0.001).compare(b, c)
    loose = make_metric("trace_breakdown", fdr=0.5).compare(b, c)
    assert strict.metadata["fdr"] == 0.001 and loose.metadata["fdr"] == 0.5
    assert strict.fields["significant_regressions"].value <= loose.fields["significant_regressions"].value
    assert strict.fields["untestable_tasks"].value == 25  # 6 runs: min p .00024 > .001 / 25
    assert strict.metadata["runs_for_30pp"] > 6 and "too few runs" in strict.warnings[-1]
    for bad in (0, 1, "x", float("nan")):
        with pytest.raises(ValueError, match="fdr"):
            make_metric("trace_breakdown", fdr=bad).compare(b, c)


def test_no_common_task_leaves_the_per_task_fields_without_data() -> None:
    rng = np.random.default_rng(1)
    obs = make_metric("trace_breakdown").compare(outcomes("b", {"a": 0.5}, 5, rng),
                                                 outcomes("c", {"z": 0.5}, 5, rng))
    assert obs.fields["missing_tasks"].value == 1 and obs.fields["new_tasks"].value == 1
    fv = obs.fields["significant_regressions"]
    assert fv.value is None and "no task" in fv.missing


def test_success_rate_interval_is_clustered_when_tasks_match_else_newcombe() -> None:
    # Issue 10: the pooled change's CI is cluster-robust over tasks (the paired t-interval now belongs to
    # the task-weighted change, task_weighted_ci_method).
    rng = np.random.default_rng(8)
    b = outcomes("b", RATES, 8, rng)
    paired = make_metric("success_rate").compare(b, outcomes("c", RATES, 8, rng))
    assert paired.metadata["ci_method"] == "cluster-tasks" and paired.metadata["ci_tasks"] == 25
    assert paired.metadata["task_weighted_ci_method"] == "paired-tasks"
    fv = paired.fields["success_rate_delta"]
    assert fv.ci == paired.metadata["ci_95"]
    assert paired.fields["success_rate_delta_lo"].value == fv.ci[0] < fv.value < fv.ci[1]
    assert paired.fields["success_rate_delta_mde"].value == fv.mde > 0

    other = outcomes("c", {**RATES, "extra": 0.5}, 8, rng)  # task sets differ
    unp = make_metric("success_rate").compare(b, other)
    assert unp.metadata["ci_method"] == "newcombe"
    bs, cs = unp.baseline["successes"], unp.current["successes"]
    ref = newcombe(bs, unp.baseline["with_outcome"], cs, unp.current["with_outcome"])
    assert unp.fields["success_rate_delta"].ci == (ref.lo, ref.hi)
    assert unp.fields["success_rate_delta_mde"].value == ref.mde

    few = {k: RATES[k] for k in list(RATES)[:9]}  # < 10 tasks
    small = make_metric("success_rate").compare(outcomes("b", few, 8, rng), outcomes("c", few, 8, rng))
    assert small.metadata["ci_method"] == "newcombe"


def test_cost_gets_a_bca_interval_and_kalibra_keeps_the_percentile_one() -> None:
    rng = np.random.default_rng(4)
    scale = {t: float(np.exp(rng.normal(0, 1))) for t in RATES}
    b = outcomes("b", RATES, 4, rng, scale)
    c = outcomes("c", RATES, 4, rng, {t: s * 1.25 for t, s in scale.items()})
    obs = make_metric("cost").compare(b, c)
    md = obs.metadata
    assert md["ci_method"] == "bca" and md["ci_95_bca"] is not None
    assert md["ci_95"] is not None and md["ci_95"] != md["ci_95_bca"]  # both kept, they differ
    fv = obs.fields["cost_delta_pct"]
    assert fv.ci == md["ci_95_bca"] and obs.fields["cost_delta_pct_hi"].value == md["ci_95_bca"][1]
    assert fv.significant == (not md["ci_95_bca"][0] <= 0 <= md["ci_95_bca"][1])
    # paired per-task ratio: the task spread cancels, the 25 % rise shows
    assert md["paired_tasks"] == 25 and md["paired_ci_95"][0] > 0
    assert obs.fields["cost_paired_pct"].value == md["paired_ratio_pct"] == pytest.approx(25, abs=10)
    mean = obs.fields["cost_mean_delta_pct"]
    assert mean.tested and mean.ci == md["mean_ci_95"] and md["mean_ci_method"] in ("bca", "percentile")


def test_percentile_fallback_and_unpaired_reasons() -> None:
    rng = np.random.default_rng(2)
    tiny = make_metric("cost").compare(outcomes("b", {"a": 1}, 2, rng, {"a": 1.0}),
                                       outcomes("c", {"a": 1}, 2, rng, {"a": 1.0}))
    assert tiny.metadata["ci_method"] == "percentile" and tiny.metadata["ci_95_bca"] is None
    assert tiny.fields["cost_delta_pct"].ci == tiny.metadata["ci_95"]
    assert "at least 10" in tiny.fields["cost_paired_pct"].missing
    scale = {t: 1.0 for t in RATES}
    differ = make_metric("cost").compare(outcomes("b", RATES, 3, rng, scale),
                                         outcomes("c", {**RATES, "new": 1}, 3, rng, {**scale, "new": 1.0}))
    fv = differ.fields["cost_paired_pct"]
    assert fv.value is None and "task sets differ" in fv.missing and differ.metadata["paired_tasks"] == 0


@pytest.fixture(scope="module")
def otel() -> tuple[Population, Population]:
    from kalibra_action.traces.fields import FieldMap
    from kalibra_action.traces.load import load_population
    from kalibra_action.traces.where import parse_matcher
    return tuple(load_population([str(OTEL)], label=v, fields=FieldMap(task_id="task.id"),
                                 where=[parse_matcher(f"variant == {v}")]) for v in ("baseline", "current"))


def test_otel_genai_mean_token_change_decides_the_gate_the_median_cannot(otel) -> None:
    obs = make_metric("token_usage").compare(*otel)
    med, mean = obs.fields["token_delta_pct"], obs.fields["token_mean_delta_pct"]
    assert med.value < -10 and med.ci[0] < 0 < med.ci[1] and not med.significant
    assert mean.significant and mean.ci[1] < -10
    median_gate = evaluate_gate(parse_gate("token_delta_pct <= -10", None), med)
    mean_gate = evaluate_gate(parse_gate("token_mean_delta_pct <= -10", None), mean)
    assert mean_gate.status is GateStatus.PASS and mean_gate.passed
    assert median_gate.status is GateStatus.PASS  # the point value satisfies it, undecided by the CI
    assert any("token_mean_delta_pct" in w and "not significant" in w for w in obs.warnings)


def test_otel_genai_names_the_significant_regressions(otel) -> None:
    b, c = otel
    obs = make_metric("trace_breakdown").compare(b, c)
    md = obs.metadata
    assert obs.fields["regressions"].value == 14  # Kalibra's naive count
    # independent computation: scipy's Boschloo per task, one-sided, then scipy's BH
    counts = {}
    for pop, side in ((b, 0), (c, 1)):
        for t, o in zip(pop.task, pop.outcome, strict=True):
            if o >= 0:
                k = counts.setdefault(pop.task_names[t], [0, 0, 0, 0])
                k[2 * side] += int(o == 1)
                k[2 * side + 1] += 1
    names = sorted(counts)
    p = [stats.boschloo_exact([[counts[t][0], counts[t][2]], [counts[t][1] - counts[t][0],
                              counts[t][3] - counts[t][2]]], alternative="greater").pvalue for t in names]
    q = stats.false_discovery_control(p, method="bh")
    expected = sorted(t for t, qq in zip(names, q, strict=True) if qq <= 0.10)
    assert sorted(md["significant_regressions"]) == expected
    assert obs.fields["significant_regressions"].value == len(expected)
    naive = {e["task_id"] for e in md["regressions"]}
    assert set(expected) <= naive
    by_task = {e["task_id"]: e for e in md["per_task"]}
    for t, pp in zip(names, p, strict=True):
        if t in naive:
            assert by_task[t]["p"] == pytest.approx(pp, rel=1e-3)
    assert obs.fields["expected_regressions"].value < obs.fields["regressions"].value
