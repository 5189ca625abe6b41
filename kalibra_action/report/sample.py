"""A hand-built Result for previewing templates and for tests (no traces needed)."""

from __future__ import annotations

from kalibra_action.result import (
    Direction,
    FieldValue,
    GateResult,
    GateStatus,
    Observation,
    Result,
    SideInfo,
)


def _task(task_id: str, b: tuple[int, int], c: tuple[int, int]) -> dict:
    return {"task_id": task_id, "baseline": {"success": b[0], "total": b[1]},
            "current": {"success": c[0], "total": c[1]}}


def sample_result(*, n_regressed: int = 3, task_ids: list[str] | None = None, n_warnings: int = 1,
                  passed: bool = False) -> Result:
    """A plausible comparison: success up, cost down, a few tasks regressed, one gate failing or not."""
    ids = task_ids or [f"task-{i:05d}" for i in range(n_regressed)]
    regressions = [_task(t, (4, 4), (i % 4, 4)) for i, t in enumerate(ids)]
    sr = Observation(
        "success_rate", "Task success rate", Direction.UPGRADE, 25.0,
        {"rate": 0.5, "successes": 50, "total": 100}, {"rate": 0.75, "successes": 75, "total": 100},
        {"pvalue": 0.0003, "significant": True},
        fields={"success_rate_delta": FieldValue(25.0, True, True, (12.1, 36.4), 17.5),
                "success_rate": FieldValue(75.0)})
    cost = Observation(
        "cost", "Cost per trace", Direction.UPGRADE, -40.5,
        {"median": 0.03575, "avg": 0.0345, "total": 3.45}, {"median": 0.02127, "avg": 0.021, "total": 2.1},
        {"ci_95": [-53.9, -20.3]},
        fields={"cost_delta_pct": FieldValue(-40.5, True, True, (-53.9, -20.3), 12.0),
                "total_cost": FieldValue(2.1)})
    dur = Observation(
        "duration", "Trace duration", Direction.SAME, 1.2, {"median": 7.63}, {"median": 7.72},
        {"ci_95": [-3.0, 5.1]},
        fields={"duration_delta_pct": FieldValue(1.2, True, False, (-3.0, 5.1), 6.0)})
    tb = Observation(
        "trace_breakdown", "Per-task regressions", Direction.DEGRADATION, None,
        {"tasks": max(20, len(ids))}, {"tasks": max(20, len(ids))},
        {"regressions": regressions, "improvements": [_task("improved-1", (0, 4), (4, 4))],
         "n_regressions": len(ids), "n_improvements": 1},
        fields={"regressions": FieldValue(float(len(ids))), "improvements": FieldValue(1.0)})
    sb = Observation(
        "span_breakdown", "Per-span changes", Direction.DEGRADATION, None, {"matched": 2}, {"matched": 2},
        {"regressions": [{"span_name": "search", "direction": "regressed",
                          "deltas": {"duration_pct": 93.7, "cost_pct": 0, "tokens_pct": 0,
                                     "error_rate_pp": 4.0}}],
         "mixed": [{"span_name": "edit", "direction": "mixed",
                    "deltas": {"duration_pct": 97.5, "cost_pct": -39.2, "tokens_pct": -0.3,
                               "error_rate_pp": 0.0}}]},
        fields={"span_regressions": FieldValue(2.0)})
    gates = [
        GateResult("success_rate_delta >= -5", "success_rate_delta", ">=", -5.0, GateStatus.PASS, True, 25.0,
                   ci=(12.1, 36.4), mde=17.5),
        GateResult("duration_delta_pct <= 1", "duration_delta_pct", "<=", 1.0, GateStatus.INCONCLUSIVE, True,
                   1.2, warning="the change is not statistically significant", ci=(-3.0, 5.1), mde=6.0,
                   underpowered=True),
        GateResult("regressions <= 2", "regressions", "<=", 2.0,
                   GateStatus.PASS if passed else GateStatus.FAIL, passed, float(len(ids)), source="cli"),
    ]
    return Result(
        direction=Direction.DEGRADATION,
        observations={o.name: o for o in (sr, cost, dur, tb, sb)},
        baseline=SideInfo("baseline.jsonl", ["baseline.jsonl"], 100, "flat", total_before_filter=100),
        current=SideInfo("current.jsonl", ["current.jsonl"], 100, "flat", ["model == gpt-4o"], 120),
        warnings=[f"sample warning {i}" for i in range(n_warnings)],
        gates=gates,
        passed=passed and all(g.passed for g in gates),
        settings={"resamples": 2000, "seed": 42, "on_inconclusive": "warn"},
    )
