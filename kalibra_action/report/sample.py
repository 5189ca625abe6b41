"""A hand-built Result for previewing templates and for tests (no traces needed).

The per-task test data follows the trace_breakdown schema (metadata per_task / fdr / expected_regressions /
untestable / runs_for_30pp; fields significant_regressions, ...). Its p-values are looked up from a small
table of one-sided exact p-values for 4 runs a side and adjusted with Benjamini–Hochberg here, so the sample
stays independent of the statistics code.
"""

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


# one-sided p of "the rate dropped" for 4/4 → k/4, and of a 2/2 → 1/2 drop (tiny designs, rounded)
_P_FROM_4_OF_4 = {0: 0.0039, 1: 0.038, 2: 0.16, 3: 0.43, 4: 1.0}
_P_2_RUNS = 0.5


def _bh(p: list[float]) -> list[float]:
    """Benjamini–Hochberg q-values."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    q = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        q[i] = min(1.0, running)
    return q


def _per_task(ids: list[str], n_tasks: int, n_untestable: int, fdr: float) -> list[dict]:
    """Tested tasks in the metric's order: drops (4/4 → i%4 of 4), 2-run flaky drops, one rise, the rest."""
    rows = [(t, (4, 4), (i % 4, 4), _P_FROM_4_OF_4[i % 4], False) for i, t in enumerate(ids)]
    rows += [(f"flaky-{i}", (2, 2), (1, 2), _P_2_RUNS, True) for i in range(n_untestable)]
    rows.append(("improved-1", (0, 4), (4, 4), _P_FROM_4_OF_4[0], False))
    rows += [(f"steady-{i:05d}", (3, 4), (3, 4), 1.0, False) for i in range(max(0, n_tasks - len(rows)))]
    q = _bh([r[3] for r in rows])
    out = []
    for (tid, (bk, bn), (ck, cn), p, untestable), qv in zip(rows, q, strict=True):
        delta = round((ck / cn - bk / bn) * 100, 2)
        naive = "regressed" if delta < 0 else "improved" if delta > 0 else "unchanged"
        verdict = naive if qv <= fdr and naive != "unchanged" else "untestable" if untestable else "unchanged"
        out.append({**_task(tid, (bk, bn), (ck, cn)), "delta_pp": delta, "p": p, "q": qv,
                    "verdict": verdict, "naive": naive, "untestable": untestable})
    group = {"regressed": 0, "improved": 2}
    out.sort(key=lambda r: (group.get(r["verdict"], 1 if r["naive"] == "regressed" else 3), r["p"]))
    return out


def sample_result(*, n_regressed: int = 3, task_ids: list[str] | None = None, n_warnings: int = 1,
                  passed: bool = False, n_untestable: int = 0, per_task: bool = True,
                  expected_regressions: float = 2.6, fdr: float = 0.10) -> Result:
    """A plausible comparison: success up, cost down, a few tasks regressed, one gate failing or not.

    per_task=False leaves out the per-task test (data from before it existed); n_untestable adds tasks
    with 2 runs a side that dropped 2/2 → 1/2.
    """
    ids = task_ids or [f"task-{i:05d}" for i in range(n_regressed)]
    n_tasks = max(20, len(ids) + n_untestable + 1)
    tested = _per_task(ids, n_tasks, n_untestable, fdr)
    regressions = [{k: v for k, v in r.items() if k in ("task_id", "baseline", "current")}
                   for r in tested if r["naive"] == "regressed"]
    sr = Observation(
        "success_rate", "Task success rate", Direction.UPGRADE, 25.0,
        {"rate": 0.5, "successes": 50, "total": 100}, {"rate": 0.75, "successes": 75, "total": 100},
        {"pvalue": 0.0003, "significant": True, "ci_95": [12.1, 36.4], "ci_method": "paired-tasks",
         "ci_tasks": 20},
        fields={"success_rate_delta": FieldValue(25.0, True, True, (12.1, 36.4), 17.5),
                "success_rate": FieldValue(75.0)})
    cost = Observation(
        "cost", "Cost per trace", Direction.UPGRADE, -40.5,
        {"median": 0.03575, "avg": 0.0345, "total": 3.45}, {"median": 0.02127, "avg": 0.021, "total": 2.1},
        {"ci_95": [-53.9, -20.3], "ci_95_bca": [-55.0, -21.1], "ci_method": "bca", "mean_delta_pct": -39.1,
         "mean_ci_95": [-50.2, -26.0], "paired_ratio_pct": -41.2, "paired_ci_95": [-47.9, -33.8],
         "paired_tasks": 20},
        fields={"cost_delta_pct": FieldValue(-40.5, True, True, (-55.0, -21.1), 12.0),
                "total_cost": FieldValue(2.1)})
    dur = Observation(
        "duration", "Trace duration", Direction.SAME, 1.2, {"median": 7.63}, {"median": 7.72},
        {"ci_95": [-3.0, 5.1], "ci_95_bca": [-3.2, 5.0], "ci_method": "bca", "mean_delta_pct": 9.8,
         "mean_ci_95": [2.1, 17.5]},
        fields={"duration_delta_pct": FieldValue(1.2, True, False, (-3.2, 5.0), 6.0)})
    metadata: dict = {"regressions": regressions, "improvements": [_task("improved-1", (0, 4), (4, 4))],
                      "n_regressions": len(regressions), "n_improvements": 1, "missing": [], "new": []}
    fields = {"regressions": FieldValue(float(len(regressions))), "improvements": FieldValue(1.0),
              "missing_tasks": FieldValue(0.0), "new_tasks": FieldValue(0.0)}
    if per_task:
        sig = sum(r["verdict"] == "regressed" for r in tested)
        sig_up = sum(r["verdict"] == "improved" for r in tested)
        metadata.update(per_task=tested, fdr=fdr, expected_regressions=expected_regressions,
                        untestable=n_untestable, runs_for_30pp=24 if n_untestable else None)
        fields.update(significant_regressions=FieldValue(float(sig)),
                      significant_improvements=FieldValue(float(sig_up)),
                      expected_regressions=FieldValue(expected_regressions),
                      untestable_tasks=FieldValue(float(n_untestable)))
    tb = Observation("trace_breakdown", "Per-task regressions", Direction.DEGRADATION, None,
                     {"tasks": n_tasks}, {"tasks": n_tasks}, metadata, fields=fields)
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
                   1.2, warning="the change is not statistically significant", ci=(-3.2, 5.0), mde=6.0,
                   underpowered=True),
        GateResult("regressions <= 2", "regressions", "<=", 2.0,
                   GateStatus.PASS if passed else GateStatus.FAIL, passed, float(len(regressions)),
                   source="cli"),
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
