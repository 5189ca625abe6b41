"""success_rate: share of successful traces among those with a known outcome; delta in pp.

Significance is the pooled two-proportion z-test (p < alpha), as in Kalibra, in `metadata`; the
direction keeps Kalibra's rule. Two changes are reported, each with an interval for that very
quantity (issue 10):
- `success_rate_delta`: the pooled change (every run counts), the point Kalibra reports, with
  `intervals.pooled_interval` (cluster-robust over tasks when the same >= 10 tasks run on both sides,
  never narrower than Newcombe on the pooled counts; Newcombe otherwise);
- `task_weighted_success_rate_delta`: the mean per-task change over tasks present on both sides (each
  task counts once), with `intervals.task_weighted_interval`.
A tested field is significant when its interval excludes 0. `metadata.mix_shift` flags when the two
changes differ beyond noise (`intervals.mix_shift`): many runs of a few tasks then drive the pooled rate.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from kalibra_action.metrics._common import no_data, plain_field, sides_missing, tested_fields, tested_specs
from kalibra_action.metrics.base import FieldSpec, Metric
from kalibra_action.result import Direction, FieldValue, Observation
from kalibra_action.stats import (
    MIN_TASKS,
    MixShift,
    mix_shift,
    pooled_interval,
    task_weighted_interval,
    two_proportion_z,
)
from kalibra_action.stats.intervals import RateInterval
from kalibra_action.traces.population import OUTCOME_FAILURE, OUTCOME_SUCCESS, Population

MIN_N = 30  # below this many known outcomes a side, rates are flagged as unreliable
TW = "task_weighted_success_rate"


class SuccessRateMetric(Metric):
    name = "success_rate"
    description = "Task success rate delta with statistical significance"
    noise_threshold = 0.5
    higher_is_better = True
    fields: ClassVar[dict[str, FieldSpec]] = {
        **tested_specs("success_rate_delta",
                       "Change in success rate, pooled over all runs (percentage points)", "pp"),
        "success_rate": FieldSpec("Current success rate (%)", unit="%"),
        **tested_specs(f"{TW}_delta", "Change in the task-weighted success rate: mean per-task change over "
                       "tasks on both sides, each task counted once (percentage points)", "pp"),
        TW: FieldSpec("Current success rate, mean over tasks on both sides, each task counted once (%)",
                      unit="%"),
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
            fields.update(_task_weighted_fields(None, None, msg))
            return no_data(self, "no outcome data", msg[0].upper() + msg[1:], fields)

        b_rate, c_rate = bs / bn, cs / cn
        delta = round((c_rate - b_rate) * 100, 2)
        _, p = two_proportion_z(bn, bs, cn, cs)
        significant = p < self.options.alpha
        direction = self.classify(delta) if significant else Direction.SAME
        rates_b, rates_c = task_rates(baseline), task_rates(current)
        alpha = self.options.alpha
        every = sorted(rates_b.keys() | rates_c.keys())
        pooled = pooled_interval(*_task_counts(rates_b, rates_c, every), alpha=alpha,
                                 tasks_match=bool(rates_b) and rates_b.keys() == rates_c.keys())
        common = _task_counts(rates_b, rates_c, sorted(rates_b.keys() & rates_c.keys()))
        weighted = task_weighted_interval(*common, alpha=alpha)
        shift = mix_shift(*common, alpha=alpha)
        ci = (float(pooled.lo), float(pooled.hi)) if pooled is not None else None
        warnings = []
        if min(bn, cn) < MIN_N:
            warnings.append(f"Only {min(bn, cn)} traces with a known outcome on the smaller side; "
                            f"rates are unreliable below {MIN_N}")
        mix = _mix_metadata(delta, weighted, shift, len(common[0]))
        if mix["flag"]:
            warnings.append(mix["text"])
        fields = tested_fields("success_rate_delta", delta, ci,
                               mde=float(pooled.mde) if pooled is not None else None)
        fields["success_rate"] = plain_field(c_rate * 100)
        tw_b, tw_c = _task_weighted_rates(*common)
        fields.update(_task_weighted_fields(weighted, tw_c, "no task has a known outcome on both sides"))
        return Observation(
            name=self.name, description=self.description, direction=direction, delta=delta,
            baseline={"rate": b_rate, "successes": bs, "with_outcome": bn, "total": len(baseline),
                      "task_weighted_rate": tw_b},
            current={"rate": c_rate, "successes": cs, "with_outcome": cn, "total": len(current),
                     "task_weighted_rate": tw_c},
            metadata={"pvalue": p, "significant": significant, "ci_95": ci,
                      "ci_method": pooled.method if pooled is not None else None,
                      "ci_tasks": pooled.tasks if pooled is not None else 0,
                      "task_weighted_ci_95": (weighted.lo, weighted.hi) if weighted is not None else None,
                      "task_weighted_ci_method": weighted.method if weighted is not None else None,
                      "task_weighted_tasks": len(common[0]), "mix_shift": mix},
            warnings=warnings, fields=fields,
        )


def _task_counts(b: dict[str, tuple[int, int]], c: dict[str, tuple[int, int]],
                 names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-task (b_k, b_n, c_k, c_n) arrays for `names`, in that order; 0 runs where a side lacks a task."""
    def col(side: dict[str, tuple[int, int]], j: int) -> np.ndarray:
        return np.array([side.get(t, (0, 0))[j] for t in names], dtype=np.int64)
    return col(b, 0), col(b, 1), col(c, 0), col(c, 1)


def _task_weighted_rates(b_k: np.ndarray, b_n: np.ndarray, c_k: np.ndarray,
                         c_n: np.ndarray) -> tuple[float | None, float | None]:
    """Mean per-task pass rate (%) of each side over the common tasks; None without any."""
    if b_k.size == 0:
        return None, None
    return float(np.mean(b_k / b_n)) * 100, float(np.mean(c_k / c_n)) * 100


def _task_weighted_fields(weighted: RateInterval | None, rate: float | None,
                          why: str) -> dict[str, FieldValue]:
    """The task-weighted delta (tested, with _lo/_hi/_mde) and the current task-weighted rate."""
    ci = (float(weighted.lo), float(weighted.hi)) if weighted is not None else None
    fields = tested_fields(f"{TW}_delta", weighted.delta_pp if weighted is not None else None, ci,
                           missing=why, mde=float(weighted.mde) if weighted is not None else None)
    fields[TW] = plain_field(rate, why)
    return fields


def _mix_metadata(pooled_pp: float, weighted: RateInterval | None, shift: MixShift | None,
                  n_common: int) -> dict:
    """metadata.mix_shift: the two changes, the test of their difference, and one sentence."""
    tw = weighted.delta_pp if weighted is not None else None
    out: dict = {"flag": False, "pooled_delta_pp": pooled_pp, "task_weighted_delta_pp": tw,
                 "difference_pp": None, "difference_ci_95": None, "tasks": n_common}
    if shift is None:
        out["text"] = (f"mix shift not tested: {n_common} task(s) have known outcomes on both sides, "
                       f"the test needs at least {MIN_TASKS}")
        return out
    out.update(flag=shift.flag, difference_pp=shift.difference_pp, difference_ci_95=(shift.lo, shift.hi))
    ci = f"95 % CI {shift.lo:+.1f} to {shift.hi:+.1f} pp"
    if shift.flag:
        out["text"] = (f"Task mix: the pooled success-rate change {pooled_pp:+.1f} pp (every run counts) "
                       f"and the task-weighted change {tw:+.1f} pp (each task counts once) differ by "
                       f"{shift.difference_pp:+.1f} pp ({ci}) over {n_common} tasks: tasks with many runs "
                       "drive the pooled rate; read the task-weighted change and the per-task results")
    else:
        out["text"] = (f"pooled {pooled_pp:+.1f} pp and task-weighted {tw:+.1f} pp agree within noise "
                       f"(difference {shift.difference_pp:+.1f} pp, {ci})")
    return out


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
