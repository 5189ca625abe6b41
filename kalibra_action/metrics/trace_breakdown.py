"""trace_breakdown: per-task success rates; a task "regressed" when its rate dropped at all (Kalibra).

Only traces with a known outcome are grouped, as in Kalibra. Kalibra bug 17 fixed: a task present
on one side only is not "unchanged" — it is counted in missing_tasks / new_tasks and listed in
metadata `missing` / `new`.
"""

from __future__ import annotations

from typing import ClassVar

from kalibra_action.metrics._common import no_data, plain_field
from kalibra_action.metrics.base import FieldSpec, Metric
from kalibra_action.metrics.success_rate import task_rates
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
    }

    def compare(self, baseline: Population, current: Population) -> Observation:
        b, c = task_rates(baseline), task_rates(current)
        if not b and not c:
            msg = "no task with a known outcome in baseline or current"
            return no_data(self, "no task data", msg[0].upper() + msg[1:],
                           {k: plain_field(None, msg) for k in self.fields})
        regressions: list[dict] = []
        improvements: list[dict] = []
        unchanged = 0
        for tid in sorted(b.keys() & c.keys()):
            (bs, bn), (cs, cn) = b[tid], c[tid]
            entry = {"task_id": tid, "baseline": {"success": bs, "total": bn},
                     "current": {"success": cs, "total": cn}}
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
        return Observation(
            name=self.name, description=self.description, direction=direction, delta=None,
            baseline={"tasks": len(b)}, current={"tasks": len(c)},
            metadata={"regressions": regressions, "improvements": improvements,
                      "n_regressions": n_reg, "n_improvements": n_imp, "n_unchanged": unchanged,
                      "missing": missing, "new": new, "n_missing": len(missing), "n_new": len(new)},
            warnings=warnings,
            fields={"regressions": plain_field(float(n_reg)), "improvements": plain_field(float(n_imp)),
                    "missing_tasks": plain_field(float(len(missing))),
                    "new_tasks": plain_field(float(len(new)))},
        )
