"""trace_breakdown: per-task success rates; a task "regressed" when its rate dropped at all (Kalibra).

Only traces with a known outcome are grouped, as in Kalibra. Kalibra bug 17 fixed: a task present
on one side only is not "unchanged" — it is counted in missing_tasks / new_tasks and listed in
metadata `missing` / `new`.

Issue 4: Kalibra's naive counts keep their meaning; beside them every task present on both sides gets
a one-sided exact test (Boschloo, Fisher above 100 runs a side) and Benjamini–Hochberg at the
configured false discovery rate (`fdr`, default 0.10) — `pertask.compare_tasks`. Fields
significant_regressions / significant_improvements / expected_regressions (naive regressions expected
by chance) / untestable_tasks (tasks whose run counts can never reach significance).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from kalibra_action.metrics._common import no_data, plain_field
from kalibra_action.metrics.base import FieldSpec, Metric
from kalibra_action.metrics.success_rate import task_rates
from kalibra_action.pertask import PerTaskResult, TaskVerdict, compare_tasks
from kalibra_action.result import Direction, Observation
from kalibra_action.traces.population import Population


class TraceBreakdownMetric(Metric):
    name = "trace_breakdown"
    description = "Per-task regression and improvement detection"
    noise_threshold = 0.0
    higher_is_better = True
    fields: ClassVar[dict[str, FieldSpec]] = {
        "regressions": FieldSpec("Tasks whose success rate dropped (no significance test)"),
        "improvements": FieldSpec("Tasks whose success rate rose (no significance test)"),
        "missing_tasks": FieldSpec("Tasks in the baseline with no known outcome in current"),
        "new_tasks": FieldSpec("Tasks in current with no known outcome in the baseline"),
        "significant_regressions": FieldSpec(
            "Tasks whose success rate dropped significantly (one-sided exact test, Benjamini–Hochberg)"),
        "significant_improvements": FieldSpec(
            "Tasks whose success rate rose significantly (one-sided exact test, Benjamini–Hochberg)"),
        "expected_regressions": FieldSpec("Naive regressions expected by chance alone (no real change)"),
        "untestable_tasks": FieldSpec("Tasks whose run counts can never reach significance"),
    }
    DEFAULT_FDR = 0.10
    PER_TASK_FIELDS = ("significant_regressions", "significant_improvements", "expected_regressions",
                       "untestable_tasks")

    @property
    def fdr(self) -> float:
        """False discovery rate from the metric config (`fdr`), default 0.10; ValueError if invalid."""
        raw = self.config.get("fdr", self.DEFAULT_FDR)
        try:
            fdr = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"trace_breakdown fdr must be a number in (0, 1), got {raw!r}") from None
        if not (math.isfinite(fdr) and 0 < fdr < 1):
            raise ValueError(f"trace_breakdown fdr must be a number in (0, 1), got {raw!r}")
        return fdr

    def compare(self, baseline: Population, current: Population) -> Observation:
        b, c = task_rates(baseline), task_rates(current)
        if not b and not c:
            msg = "no task with a known outcome in baseline or current"
            return no_data(self, "no task data", msg[0].upper() + msg[1:],
                           {k: plain_field(None, msg) for k in self.fields})
        common = sorted(b.keys() & c.keys())
        res = compare_tasks(common, *(np.array([side[t][j] for t in common], dtype=np.int64)
                                      for side, j in ((b, 0), (b, 1), (c, 0), (c, 1))), fdr=self.fdr)
        verdict = {v.task_id: v for v in res.tasks}
        regressions: list[dict] = []
        improvements: list[dict] = []
        unchanged = 0
        for tid in sorted(b.keys() & c.keys()):
            (bs, bn), (cs, cn) = b[tid], c[tid]
            v = verdict[tid]
            entry = {"task_id": tid, "baseline": {"success": bs, "total": bn},
                     "current": {"success": cs, "total": cn}}
            if cs * bn != bs * cn:  # our additions to Kalibra's entry: the test behind the count
                up = cs * bn > bs * cn
                entry.update(significant=v.verdict == ("improved" if up else "regressed"),
                             p=v.p_improvement if up else v.p_regression,
                             q=v.q_improvement if up else v.q_regression, verdict=v.verdict)
            if cs * bn < bs * cn:  # cs/cn < bs/bn without float rounding
                regressions.append(entry)
            elif cs * bn > bs * cn:
                improvements.append(entry)
            else:
                unchanged += 1
        missing = [{"task_id": t, "baseline": {"success": b[t][0], "total": b[t][1]}}
                   for t in sorted(b.keys() - c.keys())]
        new = [{"task_id": t, "current": {"success": c[t][0], "total": c[t][1]}}
               for t in sorted(c.keys() - b.keys())]
        n_reg, n_imp = len(regressions), len(improvements)
        if n_reg and n_imp:
            direction = Direction.INCONCLUSIVE
        elif n_reg:
            direction = Direction.DEGRADATION
        elif n_imp:
            direction = Direction.UPGRADE
        else:
            direction = Direction.SAME
        warnings = []
        if missing or new:
            warnings.append(f"{len(missing)} task(s) only in the baseline, {len(new)} only in current")
        if res.untestable_tasks:
            warnings.append(
                f"{res.untestable_tasks} of {len(common)} task(s) have too few runs to ever reach "
                f"significance at FDR {res.fdr:g}; about {res.runs_for_30pp} runs a side would detect "
                "a 30 pp drop in one task")
        fields = {"regressions": plain_field(float(n_reg)), "improvements": plain_field(float(n_imp)),
                  "missing_tasks": plain_field(float(len(missing))),
                  "new_tasks": plain_field(float(len(new)))}
        fields.update(_per_task_fields(res, len(common)))
        return Observation(
            name=self.name, description=self.description, direction=direction, delta=None,
            baseline={"tasks": len(b)}, current={"tasks": len(c)},
            metadata={"regressions": regressions, "improvements": improvements,
                      "n_regressions": n_reg, "n_improvements": n_imp, "n_unchanged": unchanged,
                      "missing": missing, "new": new, "n_missing": len(missing), "n_new": len(new),
                      **_per_task_metadata(res)},
            warnings=warnings, fields=fields,
        )


_ORDER = {"regressed": 0, "improved": 2, "untestable": 3, "unchanged": 3}


def _rank(v: TaskVerdict) -> tuple:
    """Significant regressions, naive regressions, significant improvements, the rest; then by p."""
    if v.verdict == "regressed":
        group = 0
    elif v.naive == "regressed":
        group = 1
    else:
        group = _ORDER[v.verdict] + (v.naive != "improved")
    return group, v.p_regression if v.delta_pp < 0 else v.p_improvement, v.task_id


def _per_task_metadata(res: PerTaskResult) -> dict:
    ordered = sorted(res.tasks, key=_rank)
    return {
        "per_task": [v.as_dict() for v in ordered],
        "fdr": res.fdr,
        "n_tested": len(res.tasks),
        "significant_regressions": [v.task_id for v in ordered if v.verdict == "regressed"],
        "significant_improvements": [v.task_id for v in ordered if v.verdict == "improved"],
        "n_significant_regressions": res.significant_regressions,
        "n_significant_improvements": res.significant_improvements,
        "expected_regressions": res.expected_regressions,
        "untestable": sorted(v.task_id for v in res.tasks if v.untestable),
        "n_untestable": res.untestable_tasks,
        "runs_for_30pp": res.runs_for_30pp,
    }


def _per_task_fields(res: PerTaskResult, n_common: int) -> dict:
    if n_common == 0:
        msg = "no task has a known outcome on both sides, so no task could be tested"
        return {k: plain_field(None, msg) for k in TraceBreakdownMetric.PER_TASK_FIELDS}
    return {"significant_regressions": plain_field(float(res.significant_regressions)),
            "significant_improvements": plain_field(float(res.significant_improvements)),
            "expected_regressions": plain_field(float(res.expected_regressions)),
            "untestable_tasks": plain_field(float(res.untestable_tasks))}
