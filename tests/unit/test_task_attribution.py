"""Issue 10, task_attribution: the aggregate change split over regressed / unchanged / improved / new /
missing tasks. The fixture's numbers are worked out by hand in the comments; the split must add up to the
whole for any population (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalibra_action.gates import evaluate_gate, parse_gate
from kalibra_action.metrics import all_fields, make_metric
from kalibra_action.result import GateStatus
from kalibra_action.traces.population import Population, PopulationBuilder


def build(label: str, rows: list[tuple[str, int, float | None, float | None, float | None]]) -> Population:
    """rows: (task, outcome 1/0/-1, tokens, cost, duration)."""
    b = PopulationBuilder(label)
    for i, (task, outcome, tokens, cost, duration) in enumerate(rows):
        b.add_trace(f"{label}-{i}", task, outcome, cost=cost, input_tokens=tokens,
                    output_tokens=None, duration=duration, spans=())
    return b.build()


def runs(task: str, n: int, passes: int, tokens: float, duration: float = 1.0) -> list:
    return [(task, int(r < passes), tokens, None, duration) for r in range(n)]


def hand_fixture() -> tuple[Population, Population]:
    """broken: 10/10 → 0/10, 1000 → 100 tokens, 1 s → 2 s (significantly regressed)
    fixed: 0/10 → 10/10, 500 tokens (significantly improved); same: 5/10, 200 tokens on both sides;
    gone: baseline only, 5/10, 300 tokens; fresh: current only, 5/10, 400 tokens. No cost anywhere."""
    base = runs("broken", 10, 10, 1000) + runs("fixed", 10, 0, 500) + runs("same", 10, 5, 200) \
        + runs("gone", 10, 5, 300)
    cur = runs("broken", 10, 0, 100, 2.0) + runs("fixed", 10, 10, 500) + runs("same", 10, 5, 200) \
        + runs("fresh", 10, 5, 400)
    return build("b", base), build("c", cur)


def test_hand_worked_decomposition() -> None:
    obs = make_metric("task_attribution").compare(*hand_fixture())
    tok = obs.metadata["decomposition"]["tokens"]
    # baseline mean (10000 + 5000 + 2000 + 3000) / 40 = 500, current (1000 + 5000 + 2000 + 4000) / 40 = 300
    assert tok["aggregate"] == pytest.approx({"baseline": 500.0, "current": 300.0, "change": -200.0,
                                              "change_pct": -40.0})
    # contribution of a task: its current total / 40 − its baseline total / 40
    want = {"regressed": (1, 1000 / 40 - 10000 / 40), "improved": (1, 0.0), "unchanged": (1, 0.0),
            "missing": (1, -3000 / 40), "new": (1, 4000 / 40)}
    for group, (tasks, contribution) in want.items():
        got = tok["groups"][group]
        assert got["tasks"] == tasks and got["contribution"] == pytest.approx(contribution, abs=1e-12)
        assert got["share_pct"] == pytest.approx(contribution / -200 * 100)
    assert obs.fields["tokens_from_regressed_pct"].value == pytest.approx(112.5)
    assert obs.fields["savings_from_regressed_pct"].value == pytest.approx(112.5)

    sr = obs.metadata["decomposition"]["success_rate"]
    # 20/40 passes on both sides: no change; broken −10/40, fixed +10/40, gone −5/40, fresh +5/40 (in pp)
    assert sr["aggregate"]["baseline"] == sr["aggregate"]["current"] == 50.0
    assert sr["groups"]["regressed"]["contribution"] == pytest.approx(-25.0)
    assert sr["groups"]["improved"]["contribution"] == pytest.approx(25.0)
    assert sr["groups"]["missing"]["contribution"] == pytest.approx(-12.5)
    assert sr["groups"]["new"]["contribution"] == pytest.approx(12.5)
    assert sr["groups"]["regressed"]["share_pct"] is None  # a share of no change is undefined

    assert obs.metadata["decomposition"]["cost"] is None
    assert "no cost data" in obs.fields["cost_from_regressed_pct"].missing
    # duration rose: mean (10 · 2 + 30) / 40 = 1.25 s against 1 s
    dur = obs.fields["duration_from_regressed_pct"]
    assert dur.value is None and dur.vacuous and "did not fall (+25 %)" in dur.missing

    broken = obs.metadata["savings_from_broken"]
    assert broken["flag"] is True and broken["metric"] == "tokens" and broken["n_regressed"] == 1
    assert broken["share_pct"] == 112.5
    assert broken["text"].startswith("tokens \u221240 %: 112 % of the drop comes from the 1 significantly "
                                     "regressed task")
    assert broken["text"] in obs.warnings


def test_the_fields_are_gateable_and_a_fall_from_broken_tasks_fails_the_gate() -> None:
    assert {"savings_from_regressed_pct", "tokens_from_regressed_pct"} <= set(all_fields())
    obs = make_metric("task_attribution").compare(*hand_fixture())
    gate = parse_gate("savings_from_regressed_pct < 50", all_fields())
    res = evaluate_gate(gate, obs.fields["savings_from_regressed_pct"])
    assert res.status == GateStatus.FAIL and res.actual == 112.5


def test_nothing_fell_passes_the_gate_with_the_reason() -> None:
    base = runs("a", 10, 5, 100) + runs("b", 10, 5, 100)
    cur = runs("a", 10, 5, 120) + runs("b", 10, 5, 100)
    obs = make_metric("task_attribution").compare(build("b", base), build("c", cur))
    fv = obs.fields["savings_from_regressed_pct"]
    assert fv.value is None and fv.vacuous and "did not fall" in fv.missing
    res = evaluate_gate(parse_gate("savings_from_regressed_pct < 50", all_fields()), fv)
    assert res.status == GateStatus.PASS and res.passed and "did not fall" in res.warning
    assert obs.metadata["savings_from_broken"]["flag"] is False


def test_no_data_at_all_is_missing_not_vacuous() -> None:
    rows = [("a", 1, None, None, None)] * 5
    obs = make_metric("task_attribution").compare(build("b", rows), build("c", rows))
    fv = obs.fields["savings_from_regressed_pct"]
    assert fv.value is None and not fv.vacuous
    res = evaluate_gate(parse_gate("savings_from_regressed_pct < 50", all_fields()), fv)
    assert res.status == GateStatus.FAIL and "no data" in res.warning


def test_a_small_fall_or_one_without_regressed_tasks_is_not_flagged() -> None:
    # tokens fall 40 % but no task's pass rate moves: nothing regressed, no flag
    base = runs("a", 10, 8, 100) + runs("b", 10, 8, 100)
    cur = runs("a", 10, 8, 60) + runs("b", 10, 8, 60)
    obs = make_metric("task_attribution").compare(build("b", base), build("c", cur))
    broken = obs.metadata["savings_from_broken"]
    assert broken["flag"] is False and broken["n_regressed"] == 0 and "no task regressed" in broken["text"]


TASKS = st.sampled_from(["t0", "t1", "t2", "t3", "t4", "t5"])
VALUE = st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False))
TOKENS = st.one_of(st.none(), st.integers(0, 10**6).map(float))  # the loader keeps whole tokens
ROW = st.tuples(TASKS, st.sampled_from([1, 0, -1]), TOKENS, VALUE, VALUE)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROW, min_size=1, max_size=60), st.lists(ROW, min_size=1, max_size=60))
def test_the_parts_add_up_to_the_whole(base_rows: list, cur_rows: list) -> None:
    b, c = build("b", base_rows), build("c", cur_rows)
    obs = make_metric("task_attribution").compare(b, c)
    n_tasks = len({r[0] for r in base_rows} | {r[0] for r in cur_rows})
    for key, col in (("tokens", 2), ("cost", 3), ("duration", 4), ("success_rate", 1)):
        d = obs.metadata["decomposition"][key]
        if key == "success_rate":
            bv = [100.0 * (r[1] == 1) for r in base_rows if r[1] >= 0]
            cv = [100.0 * (r[1] == 1) for r in cur_rows if r[1] >= 0]
        else:
            bv = [r[col] for r in base_rows if r[col] is not None]
            cv = [r[col] for r in cur_rows if r[col] is not None]
        if not bv or not cv:
            assert d is None
            continue
        agg = d["aggregate"]
        scale = max(abs(agg["baseline"]), abs(agg["current"]), 1.0)
        assert agg["baseline"] == pytest.approx(float(np.mean(bv)), rel=1e-12, abs=1e-9)
        assert agg["current"] == pytest.approx(float(np.mean(cv)), rel=1e-12, abs=1e-9)
        assert agg["change"] == agg["current"] - agg["baseline"]
        parts = [g["contribution"] for g in d["groups"].values()]
        assert math.isclose(math.fsum(parts), agg["change"], rel_tol=1e-12, abs_tol=1e-12 * scale)
        assert sum(g["tasks"] for g in d["groups"].values()) == n_tasks
        shares = [g["share_pct"] for g in d["groups"].values()]
        if agg["change"] != 0 and abs(agg["change"]) > 1e-9 * scale:
            assert math.isclose(math.fsum(shares), 100.0, rel_tol=1e-9)


def test_a_fall_inside_the_noise_floor_has_no_share_to_gate() -> None:
    # broken: 10/10 -> 0/10 and 100 -> 50 tokens; other: 10/10 both sides, 100 -> 148 tokens.
    # Mean tokens 100 -> (500 + 1480) / 20 = 99: a 1 % fall, inside the 3 % floor, whose regressed part (-25)
    # is 25 times the whole (-1): a 2500 % "share" must not fail a gate.
    base = runs("broken", 10, 10, 100) + runs("other", 10, 10, 100)
    cur = runs("broken", 10, 0, 50) + runs("other", 10, 10, 148)
    obs = make_metric("task_attribution").compare(build("b", base), build("c", cur))
    d = obs.metadata["decomposition"]["tokens"]
    assert math.isclose(d["aggregate"]["change"], -1.0)
    assert math.isclose(d["groups"]["regressed"]["contribution"], -25.0)
    fv = obs.fields["tokens_from_regressed_pct"]
    assert fv.value is None and fv.vacuous and "noise floor" in fv.missing
    res = evaluate_gate(parse_gate("tokens_from_regressed_pct < 50", all_fields()), fv)
    assert res.status == GateStatus.PASS and "noise floor" in res.warning


def _pooled_case() -> tuple[Population, Population, object]:
    """`swing` passed 8/8 in the newest base run but 0/8 in the four older ones, and 0/8 now: alone the
    newest run calls it regressed; pooled (and shrunk by its design effect) it is not. `steady` passed
    8/8 in every base run and 2/8 now: regressed either way. Tokens fall where the tasks fail."""
    from kalibra_action.history import summarize
    from kalibra_action.history.pool import pool_runs

    newest = build("b", runs("swing", 8, 8, 1000) + runs("steady", 8, 8, 1000) + runs("calm", 8, 4, 500))
    older = [summarize(build(f"o{i}", runs("swing", 8, 0, 1000) + runs("steady", 8, 8, 1000)
                             + runs("calm", 8, 4, 500)), run_id=str(i), config_hash="c" * 64)
             for i in range(4)]
    pooled = pool_runs([*older, summarize(newest, config_hash="c" * 64)])
    cur = build("c", runs("swing", 8, 0, 100) + runs("steady", 8, 2, 100) + runs("calm", 8, 4, 500))
    return newest, cur, pooled


def test_attribution_groups_by_the_verdicts_trace_breakdown_reports_on_a_pooled_baseline() -> None:
    """One source for the per-task verdicts: with a pooled baseline, task_attribution's regressed group
    is exactly trace_breakdown's significantly regressed tasks, not a re-test of the newest run alone."""
    from kalibra_action.engine import CompareOptions, compare

    newest, cur, pooled = _pooled_case()
    result = compare(newest, cur, CompareOptions(metrics=("trace_breakdown", "task_attribution"),
                                                 history=pooled))
    reported = result.observations["trace_breakdown"].metadata["significant_regressions"]
    assert reported == ["steady"]  # the swing task's drop is within its base-branch history
    groups = result.observations["task_attribution"].metadata["decomposition"]["tokens"]["groups"]
    assert groups["regressed"]["tasks"] == len(reported) == 1
    assert groups["unchanged"]["tasks"] == 2
    # the regressed share of the token fall is steady's alone: (800 − 8000) / 24 of (−14400 / 24)
    assert groups["regressed"]["share_pct"] == pytest.approx(7200 / 14400 * 100)


def test_a_flaky_tasks_uncounted_regression_is_not_a_regressed_task_here_either() -> None:
    """`flip` passes 40/40 or 28/40 from one base run to the next (flaky) and 0/40 now, its tokens down
    tenfold: trace_breakdown lists the drop but does not count it (history.flaky_counts off), so the token
    fall does not come from "significantly regressed tasks" and the savings gate does not trip on it."""
    from kalibra_action.engine import CompareOptions, compare
    from kalibra_action.history import summarize
    from kalibra_action.history.pool import pool_runs

    def run(label: str, flip: int, tokens: float) -> Population:
        return build(label, runs("flip", 40, flip, tokens) + runs("steady", 40, 40, 500))

    older = [summarize(run(f"o{i}", 28 if i % 2 else 40, 1000), run_id=str(i), config_hash="c" * 64)
             for i in range(7)]
    newest = run("b", 40, 1000)
    pooled = pool_runs([*older, summarize(newest, config_hash="c" * 64)])
    assert "flip" in pooled.flaky
    result = compare(newest, run("c", 0, 100), CompareOptions(
        metrics=("trace_breakdown", "task_attribution"), history=pooled))
    tb = result.observations["trace_breakdown"]
    assert tb.metadata["flaky_regressions"] == ["flip"] and tb.fields["significant_regressions"].value == 0
    ta = result.observations["task_attribution"]
    assert ta.metadata["decomposition"]["tokens"]["groups"]["regressed"]["tasks"] == 0
    assert ta.fields["tokens_from_regressed_pct"].value == 0.0
    assert ta.metadata["savings_from_broken"]["flag"] is False


def test_the_flag_names_every_saving_from_broken_tasks_tokens_first() -> None:
    """Tokens and duration both fall mostly because a task broke, duration's share a little higher: the
    sentence still leads with tokens and names duration too (the story's "token saving" must not turn
    into "duration" on a point of share); `metric` stays the largest share, the one the field gates."""
    # broken: 10/10 → 0/10, 1000 → 100 tokens, 10 → 1 s; steady: 10/10, 1000 → 1100 tokens, 10 → 12 s
    base = runs("broken", 10, 10, 1000, 10.0) + runs("steady", 10, 10, 1000, 10.0)
    cur = runs("broken", 10, 0, 100, 1.0) + runs("steady", 10, 10, 1100, 12.0)
    obs = make_metric("task_attribution").compare(build("b", base), build("c", cur))
    # tokens: (1000 + 11000) / 20 − 1000 = −400, broken's part −450 → 112.5 %;
    # duration: (10 + 120) / 20 − 10 = −3.5 s, broken's part −4.5 s → 128.6 %
    broken = obs.metadata["savings_from_broken"]
    assert broken["flag"] is True and broken["metric"] == "duration"
    assert broken["shares"] == {"tokens": 112.5, "duration": pytest.approx(128.6)}
    assert broken["text"].startswith("tokens \u221240 %: 112 % of the drop comes from the 1 significantly "
                                     "regressed task (duration \u221235 %: 129 %)")
    assert obs.fields["savings_from_regressed_pct"].value == pytest.approx(128.57, abs=0.01)
