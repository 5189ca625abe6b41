"""success_rate: share of successful traces among those with a known outcome; delta in pp.

Significance is the pooled two-proportion z-test (p < alpha), as in Kalibra; the direction keeps
Kalibra's rule. Added: a 95 % CI of the delta and its MDE from `intervals.success_rate_interval`:
a t-interval over per-task changes (tasks as clusters) when both sides hold the same >= 10 tasks
with known outcomes, else Newcombe's hybrid score interval.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from kalibra_action.metrics._common import no_data, plain_field, sides_missing, tested_fields, tested_specs
from kalibra_action.metrics.base import FieldSpec, Metric
from kalibra_action.result import Direction, Observation
from kalibra_action.stats import success_rate_interval, two_proportion_z
from kalibra_action.traces.population import OUTCOME_FAILURE, OUTCOME_SUCCESS, Population

MIN_N = 30  # below this many known outcomes a side, rates are flagged as unreliable


class SuccessRateMetric(Metric):
    name = "success_rate"
    description = "Task success rate delta with statistical significance"
    noise_threshold = 0.5
    higher_is_better = True
    fields: ClassVar[dict[str, FieldSpec]] = {
        **tested_specs("success_rate_delta", "Change in success rate (percentage points)", "pp"),
        "success_rate": FieldSpec("Current success rate (%)", unit="%"),
    }

    def compare(self, baseline: Population, current: Population) -> Observation:
        bs, bf = _counts(baseline)
        cs, cf = _counts(current)
        bn, cn = bs + bf, cs + cf
        if bn == 0 or cn == 0:
            msg = sides_missing("outcome data", "have a known outcome", (bn, len(baseline)),
                                (cn, len(current)))
            fields = tested_fields("success_rate_delta", None, None, missing=msg)
            fields["success_rate"] = plain_field(None, msg)
            return no_data(self, "no outcome data", msg[0].upper() + msg[1:], fields)

        b_rate, c_rate = bs / bn, cs / cn
        delta = round((c_rate - b_rate) * 100, 2)
        _, p = two_proportion_z(bn, bs, cn, cs)
        significant = p < self.options.alpha
        direction = self.classify(delta) if significant else Direction.SAME
        rates_b, rates_c = task_rates(baseline), task_rates(current)
        match = bool(rates_b) and rates_b.keys() == rates_c.keys()
        names = sorted(rates_b)
        ri = success_rate_interval(
            bs, bn, cs, cn, np.array([rates_b[t][0] / rates_b[t][1] for t in names]),
            np.array([rates_c[t][0] / rates_c[t][1] for t in names]) if match else None, tasks_match=match)
        ci = (float(ri.lo), float(ri.hi)) if ri is not None else None
        method = ri.method if ri is not None else None
        warnings = []
        if min(bn, cn) < MIN_N:
            warnings.append(f"Only {min(bn, cn)} traces with a known outcome on the smaller side; "
                            f"rates are unreliable below {MIN_N}")
        fields = tested_fields("success_rate_delta", delta, ci, significant=significant,
                               mde=float(ri.mde) if ri is not None else None)
        fields["success_rate"] = plain_field(c_rate * 100)
        return Observation(
            name=self.name, description=self.description, direction=direction, delta=delta,
            baseline={"rate": b_rate, "successes": bs, "with_outcome": bn, "total": len(baseline)},
            current={"rate": c_rate, "successes": cs, "with_outcome": cn, "total": len(current)},
            metadata={"pvalue": p, "significant": significant, "ci_95": ci, "ci_method": method,
                      "ci_tasks": ri.tasks if ri is not None else 0},
            warnings=warnings, fields=fields,
        )


def _counts(pop: Population) -> tuple[int, int]:
    return int(np.count_nonzero(pop.outcome == OUTCOME_SUCCESS)), int(
        np.count_nonzero(pop.outcome == OUTCOME_FAILURE))


def task_rates(pop: Population) -> dict[str, tuple[int, int]]:
    """{task name: (successes, runs with a known outcome)} for tasks with at least one known outcome."""
    known = pop.outcome >= 0
    k = len(pop.task_names)
    runs = np.bincount(pop.task[known], minlength=k)
    wins = np.bincount(pop.task[known], weights=(pop.outcome[known] == OUTCOME_SUCCESS), minlength=k)
    names, w, n = pop.task_names, wins.astype(np.int64).tolist(), runs.tolist()  # Python ints: fast loop
    return {names[i]: (w[i], n[i]) for i in np.flatnonzero(runs).tolist()}
