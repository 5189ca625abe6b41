"""trace_breakdown: per-task success rates; a task "regressed" when its rate dropped at all (Kalibra).

Only traces with a known outcome are grouped, as in Kalibra. Kalibra bug 17 fixed: a task present
on one side only is not "unchanged" — it is counted in missing_tasks / new_tasks and listed in
metadata `missing` / `new`.

Issue 4: Kalibra's naive counts keep their meaning; beside them every task present on both sides gets
a one-sided exact test (Boschloo, Fisher above 100 runs a side) and Benjamini–Hochberg at the
configured false discovery rate (`fdr`, default 0.10) — `pertask.compare_tasks`. Fields
significant_regressions / significant_improvements / expected_regressions (naive regressions expected
by chance) / untestable_tasks (tasks whose run counts can never reach significance).

Issue 10: each `per_task` item also carries the 95 % CI of its change (`delta_ci_pp`, `ci_method`) and
the task's median tokens, cost and duration per trace on each side with their % change (`medians`).

Issue 12: with a pooled baseline (config `history`, a `history.PooledBaseline`), the baseline side of each
task is its counts summed over the pooled runs, and a flaky task (its pass rate varies between the base
branch's runs beyond binomial noise) is marked: its regression is listed but counts toward `regressions`
and `significant_regressions` only when the pool says `flaky_counts`. Field flaky_tasks; metadata
`history_mde` (the per-task MDE with the newest run alone and with the pool).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from kalibra_action.history.pool import PooledBaseline, effective_counts, mde_pp
from kalibra_action.metrics._common import no_data, plain_field
from kalibra_action.metrics.base import FieldSpec, Metric
from kalibra_action.metrics.success_rate import task_rates
from kalibra_action.result import Direction, Observation
from kalibra_action.stats import PerTaskResult, TaskVerdict, compare_tasks, pct_delta
from kalibra_action.stats.decompose import group_medians
from kalibra_action.traces.population import Population

# The per-trace columns whose per-task medians each per_task item shows.
MEDIAN_COLUMNS = {"tokens": "tokens", "cost": "cost", "duration": "duration"}


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
        "flaky_tasks": FieldSpec("Tasks whose pass rate varies between the pooled baseline runs beyond "
                                 "binomial noise (needs several baseline runs)"),
    }
    DEFAULT_FDR = 0.10
    PER_TASK_FIELDS = ("significant_regressions", "significant_improvements", "expected_regressions",
                       "untestable_tasks")

    @property
    def max_tasks(self) -> int | None:
        """Tasks with full per-task data in each list (limits.max_tasks); None: no cap."""
        raw = self.config.get("max_tasks")
        return int(raw) if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0 else None

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

    @property
    def history(self) -> PooledBaseline | None:
        """The pooled baseline runs, when several were given."""
        raw = self.config.get("history")
        return raw if isinstance(raw, PooledBaseline) else None

    def compare(self, baseline: Population, current: Population) -> Observation:
        history = self.history
        cap = self.max_tasks
        test = per_task_test(baseline, current, fdr=self.fdr, history=history, keep=cap)
        b, c, common, counts, res = test.baseline, test.current, test.common, test.counts, test.result
        if not b and not c:
            msg = "no task with a known outcome in baseline or current"
            return no_data(self, "no task data", msg[0].upper() + msg[1:],
                           {k: plain_field(None, msg) for k in self.fields})
        cross = counts[2] * counts[1] - counts[0] * counts[3]  # sign of cs/cn - bs/bn, no float rounding
        ignored = _ignored_flaky(common, history)
        n_reg, n_imp = int(((cross < 0) & ~ignored).sum()), int((cross > 0).sum())
        unchanged = len(common) - n_reg - n_imp
        regressions, improvements = _changed_entries(res, b, c, history)
        missing_ids, new_ids = sorted(b.keys() - c.keys()), sorted(c.keys() - b.keys())
        missing = [{"task_id": t, "baseline": {"success": b[t][0], "total": b[t][1]}}
                   for t in missing_ids[:cap]]
        new = [{"task_id": t, "current": {"success": c[t][0], "total": c[t][1]}} for t in new_ids[:cap]]
        if n_reg and n_imp:
            direction = Direction.INCONCLUSIVE
        elif n_reg:
            direction = Direction.DEGRADATION
        elif n_imp:
            direction = Direction.UPGRADE
        else:
            direction = Direction.SAME
        warnings = _task_warnings(len(common), len(missing_ids), len(new_ids), cap)
        truncated = cap is not None and max(len(common), len(missing_ids), len(new_ids)) > cap
        if res.untestable_tasks:
            warnings.append(
                f"{res.untestable_tasks} of {len(common)} task(s) have too few runs to ever reach "
                f"significance at FDR {res.fdr:g}; about {res.runs_for_30pp} runs a side would detect "
                "a 30 pp drop in one task")
        fields = {"regressions": plain_field(float(n_reg)), "improvements": plain_field(float(n_imp)),
                  "missing_tasks": plain_field(float(len(missing_ids))),
                  "new_tasks": plain_field(float(len(new_ids)))}
        fields.update(_per_task_fields(res, len(common), _flaky_significant(res, ignored, common)))
        fields["flaky_tasks"] = _flaky_field(history)
        return Observation(
            name=self.name, description=self.description, direction=direction, delta=None,
            baseline={"tasks": len(b)}, current={"tasks": len(c)},
            metadata={"regressions": regressions, "improvements": improvements,
                      "n_regressions": n_reg, "n_improvements": n_imp, "n_unchanged": unchanged,
                      "missing": missing, "new": new, "n_missing": len(missing_ids),
                      "n_new": len(new_ids), **_per_task_metadata(res, baseline, current, history),
                      **_history_metadata(history, common, counts, res.fdr, ignored, cross),
                      "truncated": {"max_tasks": cap} if truncated else None},
            warnings=warnings, fields=fields,
        )


@dataclass(frozen=True)
class PerTaskTest:
    """The per-task counts (pooled on the baseline side when several runs were given) and the test of
    every task on both sides: the one source of the per-task verdicts, for trace_breakdown and for
    task_attribution's groups."""

    baseline: dict[str, tuple[int, int]]
    current: dict[str, tuple[int, int]]
    common: list[str]
    counts: list[np.ndarray]  # b passes, b runs, c passes, c runs over `common`: the real counts
    result: PerTaskResult
    history: PooledBaseline | None = None

    def verdicts(self) -> dict[str, str]:
        """task → its verdict as the gates count it (`regressed`, `improved`, `unchanged`, `untestable`),
        all tasks unless the test was capped with `keep`: a flaky task's regression that does not count
        toward `significant_regressions` (history.flaky_counts off) is `unchanged` here too."""
        ignored = set() if self.history is None or self.history.flaky_counts else set(self.history.flaky)
        return {v.task_id: "unchanged" if v.verdict == "regressed" and v.task_id in ignored else v.verdict
                for v in self.result.tasks}


def per_task_test(baseline: Population, current: Population, *, fdr: float,
                  history: PooledBaseline | None = None, keep: int | None = None) -> PerTaskTest:
    """Test every task with known outcomes on both sides: one-sided exact tests with BH at `fdr`; with a
    pooled baseline the baseline counts are the pool's and each side's counts are shrunk by the task's
    design effect for the test (the entries keep the real counts)."""
    b = dict(history.counts) if history is not None else task_rates(baseline)
    c = task_rates(current)
    common = sorted(b.keys() & c.keys())
    counts = [np.array([side[t][j] for t in common], dtype=np.int64)
              for side, j in ((b, 0), (b, 1), (c, 0), (c, 1))]
    res = compare_tasks(common, *_tested_counts(counts, common, history), fdr=fdr, keep=keep)
    if history is not None and history.rho:
        res = _with_counts(res, b, c)
    return PerTaskTest(b, c, common, counts, res, history)


def _task_warnings(n_common: int, n_missing: int, n_new: int, cap: int | None) -> list[str]:
    """Tasks on one side only, and the cap on per-task data when it cut a list."""
    out = []
    if n_missing or n_new:
        out.append(f"{n_missing} task(s) only in the baseline, {n_new} only in current")
    if cap is not None and max(n_common, n_missing, n_new) > cap:
        out.append(f"{n_common + n_missing + n_new:,} tasks: the report lists full per-task data for at most "
                   f"{cap:,} in each list (the worst first); every count covers all tasks (limits.max_tasks)")
    return out


def _tested_counts(counts: list[np.ndarray], common: list[str],
                   history: PooledBaseline | None) -> list[np.ndarray]:
    """The counts the exact tests see: with a pooled baseline, each task's divided by its design effect
    (history.pool.effective_counts), so between-run variation the flakiness test missed does not alarm."""
    if history is None or not history.rho:
        return counts
    rows = [effective_counts(history, t, *(int(a[i]) for a in counts)) for i, t in enumerate(common)]
    return [np.array([r[j] for r in rows], dtype=np.int64) for j in range(4)]


def _with_counts(res: PerTaskResult, b: dict, c: dict) -> PerTaskResult:
    """`res` with each task's real counts and change shown (its p and q stay those of the tested counts)."""
    tasks = tuple(replace(v, b_k=b[v.task_id][0], b_n=b[v.task_id][1], c_k=c[v.task_id][0],
                          c_n=c[v.task_id][1],
                          delta_pp=round((c[v.task_id][0] / c[v.task_id][1]
                                          - b[v.task_id][0] / b[v.task_id][1]) * 100, 2))
                  for v in res.tasks)
    return replace(res, tasks=tasks)


def _ignored_flaky(common: list[str], history: PooledBaseline | None) -> np.ndarray:
    """Per common task: a flaky task whose regression does not count toward the gates."""
    if history is None or history.flaky_counts:
        return np.zeros(len(common), dtype=bool)
    return np.array([t in history.flaky for t in common], dtype=bool)


def _flaky_significant(res: PerTaskResult, ignored: np.ndarray, common: list[str]) -> int:
    """Significant regressions of flaky tasks that do not count (from every task, also when capped)."""
    if not ignored.any():
        return 0
    flaky = {t for t, skip in zip(common, ignored.tolist(), strict=True) if skip}
    return sum(1 for t in res.regressed_ids if t in flaky)


def _flaky_field(history: PooledBaseline | None):
    if history is None:
        return plain_field(None, "flaky tasks need several baseline runs (baseline-runs / --baseline-run)")
    return plain_field(float(len(history.flaky)))


def _history_metadata(history: PooledBaseline | None, common: list[str], counts: list[np.ndarray],
                      fdr: float, ignored: np.ndarray, cross: np.ndarray) -> dict:
    """The flaky tasks' regressions (listed, not counted) and the per-task MDE, one run vs the pool."""
    if history is None:
        return {}
    flaky_regressions = [t for t, skip, x in zip(common, ignored.tolist(), cross.tolist(), strict=True)
                         if skip and x < 0]
    return {"flaky_regressions": flaky_regressions[:MAX_LISTED],
            "n_flaky_regressions": len(flaky_regressions),
            "history_mde": _mdes(history, common, counts, fdr)}


MAX_LISTED = 100


def _mdes(history: PooledBaseline, common: list[str], counts: list[np.ndarray], fdr: float) -> dict:
    """Per-task MDE (pp, 80 % power, at the BH threshold of a lone task) with the newest run's runs per
    task and with the pooled runs per task (medians over the common tasks)."""
    if not common:
        return {"one_run": None, "pooled": None, "runs": len(history.pooled_runs)}
    alpha = fdr / len(common)
    rate = float(np.median(counts[0] / np.maximum(counts[1], 1)))
    n_cur = float(np.median(counts[3]))
    n_one = float(np.median([history.newest.get(t, (0, 0))[1] for t in common]))
    return {"one_run": mde_pp(max(rate, 0.5), n_one, n_cur, alpha),
            "pooled": mde_pp(max(rate, 0.5), float(np.median(counts[1])), n_cur, alpha),
            "runs": len(history.pooled_runs)}


def _changed_entries(res: PerTaskResult, b: dict, c: dict,
                     history: PooledBaseline | None = None) -> tuple[list[dict], list[dict]]:
    """Kalibra's regressions / improvements lists (by task id) with the test behind each entry, for the
    tasks `res` kept (all of them unless capped); a flaky task's entry says so."""
    regressions: list[dict] = []
    improvements: list[dict] = []
    for v in sorted(res.tasks, key=lambda v: v.task_id):
        (bs, bn), (cs, cn) = b[v.task_id], c[v.task_id]
        if cs * bn == bs * cn:
            continue
        up = cs * bn > bs * cn
        entry = {"task_id": v.task_id, "baseline": {"success": bs, "total": bn},
                 "current": {"success": cs, "total": cn},
                 "significant": v.verdict == ("improved" if up else "regressed"),
                 "p": v.p_improvement if up else v.p_regression,
                 "q": v.q_improvement if up else v.q_regression, "verdict": v.verdict}
        if history is not None and v.task_id in history.flaky:
            entry["flaky"] = True
        (improvements if up else regressions).append(entry)
    return regressions, improvements


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


class TaskMedians:
    """Each task's median tokens, cost and duration per trace on one side (NaN: no trace measured it)."""

    def __init__(self, pop: Population) -> None:
        self.index = {name: i for i, name in enumerate(pop.task_names)}
        self.columns = {key: group_medians(getattr(pop, column), pop.task, len(pop.task_names)).tolist()
                        for key, column in MEDIAN_COLUMNS.items()}

    def get(self, key: str, task: str) -> float | None:
        i = self.index.get(task)
        value = self.columns[key][i] if i is not None else math.nan
        return None if math.isnan(value) else value


def _medians_entry(task: str, b: TaskMedians, c: TaskMedians) -> dict:
    """The `medians` of one per_task item: each side's median and the % change (None when undefined)."""
    out = {}
    for key in MEDIAN_COLUMNS:
        bm, cm = b.get(key, task), c.get(key, task)
        out[key] = {"baseline": bm, "current": cm,
                    "delta_pct": pct_delta(bm, cm) if bm is not None and cm is not None else None}
    return out


def _per_task_metadata(res: PerTaskResult, baseline: Population, current: Population,
                       history: PooledBaseline | None = None) -> dict:
    ordered = sorted(res.tasks, key=_rank)
    b_med, c_med = TaskMedians(baseline), TaskMedians(current)
    flaky = history.flaky if history is not None else {}
    return {
        "per_task": [{**v.as_dict(), "medians": _medians_entry(v.task_id, b_med, c_med),
                      **({"flaky": True} if v.task_id in flaky else {})} for v in ordered],
        "fdr": res.fdr,
        "n_tested": res.n_tasks,
        "significant_regressions": [v.task_id for v in ordered if v.verdict == "regressed"],
        "significant_improvements": [v.task_id for v in ordered if v.verdict == "improved"],
        "n_significant_regressions": res.significant_regressions,
        "n_significant_improvements": res.significant_improvements,
        "expected_regressions": res.expected_regressions,
        "untestable": list(res.untestable_ids),
        "n_untestable": res.untestable_tasks,
        "runs_for_30pp": res.runs_for_30pp,
    }


def _per_task_fields(res: PerTaskResult, n_common: int, flaky_ignored: int = 0) -> dict:
    if n_common == 0:
        msg = "no task has a known outcome on both sides, so no task could be tested"
        return {k: plain_field(None, msg) for k in TraceBreakdownMetric.PER_TASK_FIELDS}
    return {"significant_regressions": plain_field(float(res.significant_regressions - flaky_ignored)),
            "significant_improvements": plain_field(float(res.significant_improvements)),
            "expected_regressions": plain_field(float(res.expected_regressions)),
            "untestable_tasks": plain_field(float(res.untestable_tasks))}
