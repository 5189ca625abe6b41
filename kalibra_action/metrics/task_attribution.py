"""task_attribution: where the aggregate change came from — the regressed, unchanged, improved, new and
missing tasks' contributions to the change in success rate, tokens, cost and duration (issue 10).

Tasks are grouped by the per-task verdict of trace_breakdown (`trace_breakdown.per_task_test`: one-sided
exact tests with BH at the same `fdr`, on the same pooled baseline counts when several runs were given):
regressed / improved are the significant ones (a flaky task's regression that significant_regressions
does not count is unchanged), every other task with known outcomes on both sides is
unchanged, a task with known outcomes on one side only is missing (baseline) or new (current); a task
without any known outcome is grouped by where it has traces. The decomposed quantity is the mean per
trace (`stats/decompose.py`), which splits exactly into per-task contributions; for success rate it is
the pooled rate over runs with a known outcome, the point success_rate_delta reports.

Fields: `<metric>_from_regressed_pct`, the share (%) of a fall in mean tokens / cost / duration that the
significantly regressed tasks contribute (null when the mean did not fall beyond the metric's noise
floor, where the parts of a tiny fall can be many times the whole), and
`savings_from_regressed_pct`, the largest of them. `metadata.savings_from_broken` flags when most
(> 50 %) of a fall beyond the metric's noise floor comes from regressed tasks: savings bought by
truncated or skipped work.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from kalibra_action.metrics._common import no_data, plain_field
from kalibra_action.metrics.base import FieldSpec, Metric
from kalibra_action.metrics.cost import CostMetric
from kalibra_action.metrics.duration import DurationMetric
from kalibra_action.metrics.token_usage import TokenUsageMetric
from kalibra_action.metrics.trace_breakdown import TraceBreakdownMetric, per_task_test
from kalibra_action.result import Direction, FieldValue, Observation
from kalibra_action.stats.decompose import Decomposition, decompose_mean, group_sums
from kalibra_action.traces.population import OUTCOME_SUCCESS, Population

GROUPS = ("regressed", "unchanged", "improved", "new", "missing")
REGRESSED, UNCHANGED, IMPROVED, NEW, MISSING = range(5)
FLAG_SHARE = 50.0  # % of a fall that must come from regressed tasks to flag "savings from broken tasks"
# The continuous quantities: column, what the report calls it, the metric whose noise floor a fall must pass
SAVINGS = {"tokens": ("tokens", "mean tokens per trace", TokenUsageMetric.noise_threshold),
           "cost": ("cost", "mean cost per trace", CostMetric.noise_threshold),
           "duration": ("duration", "mean duration per trace (seconds)", DurationMetric.noise_threshold)}
SUCCESS_QUANTITY = "success rate (%) over runs with a known outcome, pooled; change and contributions in pp"


class TaskAttributionMetric(Metric):
    name = "task_attribution"
    description = ("Where the aggregate change came from: regressed, unchanged, improved, new and missing "
                   "tasks")
    noise_threshold = 0.0
    fields: ClassVar[dict[str, FieldSpec]] = {
        "savings_from_regressed_pct": FieldSpec(
            "Largest share (%) of a fall in mean tokens, cost or duration per trace that comes from the "
            "significantly regressed tasks", unit="%"),
        **{f"{key}_from_regressed_pct": FieldSpec(
            f"Share (%) of the fall in {what} that comes from the significantly regressed tasks", unit="%")
           for key, (_, what, _) in SAVINGS.items()},
    }
    DEFAULT_FDR = TraceBreakdownMetric.DEFAULT_FDR
    # The same per_task.fdr and pooled baseline (the engine gives both metrics the same), tested by the
    # same per_task_test, so the groups are trace_breakdown's verdicts.
    fdr = TraceBreakdownMetric.fdr
    history = TraceBreakdownMetric.history

    def compare(self, baseline: Population, current: Population) -> Observation:
        names, group = self._groups(baseline, current)
        if not names:
            msg = "no task in baseline or current"
            return no_data(self, "no task data", msg[0].upper() + msg[1:],
                           {k: plain_field(None, msg) for k in self.fields})
        index = {t: i for i, t in enumerate(names)}
        decompositions = {"success_rate": _decompose(_success_values, baseline, current, index, group)}
        for key, (column, _, _) in SAVINGS.items():
            decompositions[key] = _decompose(lambda p, c=column: getattr(p, c), baseline, current, index,
                                             group)
        fields = {f"{key}_from_regressed_pct": _share_field(key, decompositions[key]) for key in SAVINGS}
        fields["savings_from_regressed_pct"] = _largest_share(fields)
        broken = _savings_from_broken(decompositions, int(np.count_nonzero(group == REGRESSED)))
        metadata = {"decomposition": {key: _decomposition_dict(key, d) for key, d in decompositions.items()},
                    "savings_from_broken": broken, "fdr": self.fdr}
        return Observation(name=self.name, description=self.description, direction=Direction.NA,
                           metadata=metadata, warnings=[broken["text"]] if broken["flag"] else [],
                           fields=fields)

    def _groups(self, baseline: Population, current: Population) -> tuple[list[str], np.ndarray]:
        """Every task of either side (sorted) and its group code."""
        test = per_task_test(baseline, current, fdr=self.fdr, history=self.history)
        b, c, verdict = test.baseline, test.current, test.verdicts()
        in_b, in_c = set(baseline.task_names), set(current.task_names)
        names = sorted(in_b | in_c)
        code = {"regressed": REGRESSED, "improved": IMPROVED}
        group = np.empty(len(names), dtype=np.int64)
        for i, t in enumerate(names):
            if t in verdict:
                group[i] = code.get(verdict[t], UNCHANGED)
            elif t in b or t in c:
                group[i] = MISSING if t in b else NEW
            else:  # no known outcome anywhere: by where the task has traces
                group[i] = UNCHANGED if (t in in_b and t in in_c) else MISSING if t in in_b else NEW
        return names, group


def _success_values(pop: Population) -> np.ndarray:
    """100 for a success, 0 for a failure, NaN for an unknown outcome (left out of the mean): the mean is
    the pooled success rate in %, its change in pp."""
    return np.where(pop.outcome >= 0, (pop.outcome == OUTCOME_SUCCESS) * 100.0, np.nan)


def _decompose(values_of, baseline: Population, current: Population, index: dict[str, int],
               group: np.ndarray) -> Decomposition | None:
    """The decomposition of one quantity; None when a side has no value or the sums overflow."""
    sides = []
    for pop in (baseline, current):
        values = values_of(pop)
        with np.errstate(over="ignore", invalid="ignore"):
            sums, counts = group_sums(values, pop.task, len(pop.task_names))
        aligned = np.zeros(len(index))
        aligned[[index[t] for t in pop.task_names]] = sums
        sides.append((aligned, int(counts.sum())))
    (b_sum, b_n), (c_sum, c_n) = sides
    if not (np.all(np.isfinite(b_sum)) and np.all(np.isfinite(c_sum))):
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        d = decompose_mean(b_sum, b_n, c_sum, c_n, group, GROUPS)
    if d is None or not all(np.isfinite([d.baseline, d.current, d.change, *d.contributions.values()])):
        return None
    return d


def _share_field(key: str, d: Decomposition | None) -> FieldValue:
    """<key>_from_regressed_pct: the regressed tasks' share of a fall; None with the reason otherwise."""
    _, what, floor = SAVINGS[key]
    if d is None:
        return plain_field(None, f"no {key} data on one side (or values too large to sum)")
    if d.change >= 0:
        return FieldValue(None, missing=f"{what} did not fall ({_pct(d.change_pct)})", vacuous=True)
    if d.change_pct is not None and d.change_pct > -floor:
        # A fall inside the noise floor has no meaningful split: its parts can be many times the whole.
        return FieldValue(None, missing=f"{what} fell by no more than its noise floor of {floor:g} % "
                          f"({_pct(d.change_pct)})", vacuous=True)
    share = d.share_pct("regressed")
    return plain_field(round(share, 2) if share is not None else None, f"{what}: share undefined")


def _largest_share(fields: dict[str, FieldValue]) -> FieldValue:
    """savings_from_regressed_pct: the largest share among the metrics that fell; None, vacuous, when none
    fell; None, missing, when none has data."""
    shares = [fv.value for fv in fields.values() if fv.value is not None]
    if shares:
        return plain_field(max(shares))
    if any(fv.vacuous for fv in fields.values()):
        return FieldValue(None, missing="mean tokens, cost and duration per trace did not fall", vacuous=True)
    return plain_field(None, "no tokens, cost or duration data on both sides")


def _decomposition_dict(key: str, d: Decomposition | None) -> dict | None:
    """metadata.decomposition[key], the shape the report reads; None without data."""
    if d is None:
        return None
    return {"aggregate": {"baseline": d.baseline, "current": d.current, "change": d.change,
                          "change_pct": d.change_pct},
            "quantity": SUCCESS_QUANTITY if key == "success_rate" else SAVINGS[key][1],
            "groups": {g: {"tasks": d.tasks[g], "contribution": d.contributions[g],
                           "share_pct": d.share_pct(g)} for g in GROUPS}}


def _savings_from_broken(decompositions: dict[str, Decomposition | None], n_regressed: int) -> dict:
    """The flag and one sentence naming every fall beyond its noise floor that comes mostly from regressed
    tasks, tokens first. `metric` / `share_pct` are the largest share (what savings_from_regressed_pct
    gates); `shares` holds each flagged metric's, so a report that leads with tokens is not told "duration"
    only because duration's share came out a point higher."""
    falls: dict[str, tuple[float, Decomposition]] = {}
    for key, (_, _, floor) in SAVINGS.items():
        d = decompositions[key]
        if d is None or d.change >= 0 or d.change_pct is None or d.change_pct > -floor:
            continue
        share = d.share_pct("regressed")
        if share is not None:
            falls[key] = (share, d)
    if not falls:
        return {"flag": False, "metric": None, "share_pct": None, "shares": {}, "n_regressed": n_regressed,
                "text": "no fall in mean tokens, cost or duration per trace beyond the noise floor"}
    key = max(falls, key=lambda k: falls[k][0])
    share, d = falls[key]
    if n_regressed == 0:
        return {"flag": False, "metric": key, "share_pct": round(share, 1), "shares": {}, "n_regressed": 0,
                "text": f"{key} {_pct(d.change_pct)}: no task regressed significantly"}
    flagged = {k: round(s, 1) for k, (s, _) in falls.items() if s > FLAG_SHARE}
    tasks = f"the {n_regressed} significantly regressed task{'s' if n_regressed != 1 else ''}"
    shown = flagged or {key: round(share, 1)}
    said = [f"{k} {_pct(falls[k][1].change_pct)}: {falls[k][0]:.0f} %" for k in shown]
    text = f"{said[0]} of the drop comes from {tasks}"
    if len(said) > 1:
        text += " (" + "; ".join(said[1:]) + ")"
    if flagged:
        text += " — the savings come from the tasks that broke; check for truncated or skipped work"
    return {"flag": bool(flagged), "metric": key, "share_pct": round(share, 1), "shares": flagged,
            "n_regressed": n_regressed, "text": text}


def _pct(pct: float | None) -> str:
    """'−65 %' with a true minus sign; 'n/a' when undefined."""
    return "n/a" if pct is None else f"{pct:+.0f} %".replace("-", "\u2212")
