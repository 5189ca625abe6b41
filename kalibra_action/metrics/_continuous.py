"""The shared engine of the six continuous metrics: median % change with a bootstrap CI.

Fixes over Kalibra (0.2.4):
- bug 4: a baseline median of 0 with a non-zero current median makes the % change undefined; the
  gate field is then None with a reason, so a gate on it fails for want of data instead of passing;
- bug 5: FieldValue.significant is the CI verdict alone (the noise floor only shapes `direction`);
- bug 6: the mean change and its bootstrap CI are reported too (metadata mean_delta_pct,
  mean_ci_95; tested gate field <prefix>_mean_delta_pct), because medians miss shifts in
  two-peaked data (shipped otel_genai example).

Issue 4: `metadata.ci_95` stays Kalibra's percentile interval (and `direction` Kalibra's rule on it);
the gate-facing CI (FieldValue.ci, _lo/_hi, significant, _mde) is BCa from the same replicates,
percentile where BCa is undefined (`metadata.ci_95_bca`, `metadata.ci_method`). When the same >= 10
tasks carry values on both sides, the paired per-task geometric-mean ratio is added
(`<prefix>_paired_pct`, metadata paired_ratio_pct / paired_ci_95 / paired_tasks).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from kalibra_action.metrics._common import (
    measured,
    no_data,
    plain_field,
    sides_missing,
    tested_fields,
    tested_specs,
)
from kalibra_action.metrics.base import FieldSpec, Metric
from kalibra_action.result import FieldValue, Observation
from kalibra_action.stats import (
    MIN_TASKS,
    RatioInterval,
    bootstrap_pct,
    excludes_zero,
    mean,
    median,
    paired_ratio,
    pct_delta,
    task_log_means,
    total,
)
from kalibra_action.traces.population import OUTCOME_SUCCESS, Population

UNDEFINED = "baseline median is 0, % change undefined"
MEAN_UNDEFINED = "baseline mean is 0, % change undefined"
TOO_LARGE = "the % change is too large to represent (values near the float limit)"


def _fmt_ci(ci: tuple[float, float]) -> str:
    return f"{ci[0]:+.1f} % to {ci[1]:+.1f} %"


class ContinuousMetric(Metric):
    """Subclasses set delta_field/what/have and implement extract() and summary()."""

    delta_field: ClassVar[str]
    what: ClassVar[str]  # "cost data"
    have: ClassVar[str]  # "have a cost"
    no_data_reason: ClassVar[str | None] = None  # Kalibra's metadata.no_data_reason; default "no <what>"
    successes_only: ClassVar[bool] = False
    coverage_warning: ClassVar[bool] = False  # warn when under half the traces carry a value
    higher_is_better = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Every continuous metric also publishes <prefix>_mean_delta_pct (tested, with _lo/_hi/_mde)
        and <prefix>_paired_pct, where <prefix> is delta_field without `_delta_pct`."""
        super().__init_subclass__(**kwargs)
        if "delta_field" in cls.__dict__:
            p = cls.prefix()
            base = cls.fields[cls.delta_field].description  # "Median cost change (%)"
            mean_desc = (base.replace("Median", "Mean", 1) if base.startswith("Median")
                         else base.replace("Change in ", "Change in mean ", 1))
            cls.fields = {
                **cls.fields,
                **tested_specs(f"{p}_mean_delta_pct", mean_desc, "%"),
                f"{p}_paired_pct": FieldSpec(
                    f"{base.removeprefix('Median ').capitalize()}, paired per-task geometric-mean ratio "
                    f"(the same >= {MIN_TASKS} tasks on both sides)", unit="%"),
            }

    @classmethod
    def prefix(cls) -> str:
        return cls.delta_field.removesuffix("_delta_pct")

    def extract(self, pop: Population) -> np.ndarray:
        """Per-trace values, NaN where not measured."""
        raise NotImplementedError

    def summary(self, values: np.ndarray, pop: Population) -> dict:
        """The baseline/current dict of the observation."""
        return {"median": median(values), "avg": mean(values), "total": _total(values)}

    def side_fields(self, cur: dict | None) -> dict[str, FieldValue]:
        """Untested fields read from the current summary (None when there is no data)."""
        return {}

    def _side(self, pop: Population) -> tuple[np.ndarray, int, int, np.ndarray, np.ndarray]:
        """(measured values, pool size, n infinite, raw values of the pool, their task codes)."""
        raw = self.extract(pop)
        task = pop.task
        pool = len(pop)
        if self.successes_only:
            ok = pop.outcome == OUTCOME_SUCCESS
            raw, task, pool = raw[ok], task[ok], int(np.count_nonzero(ok))
        values, n_inf = measured(raw)
        return values, pool, n_inf, raw, task

    def _missing(self, bpool: int, cpool: int, nb: int, nc: int, sizes: tuple[int, int]) -> tuple[str, str]:
        if self.successes_only and (bpool == 0 or cpool == 0):
            msg = sides_missing("successful traces", "succeeded", (bpool, sizes[0]), (cpool, sizes[1]))
            return "no successes", msg
        unit = "successful traces" if self.successes_only else "traces"
        msg = sides_missing(self.what, self.have, (nb, bpool), (nc, cpool), unit)
        return self.no_data_reason or f"no {self.what}", msg

    def compare(self, baseline: Population, current: Population) -> Observation:
        b, bpool, b_inf, b_raw, b_task = self._side(baseline)
        c, cpool, c_inf, c_raw, c_task = self._side(current)
        p = self.prefix()
        if b.shape[0] == 0 or c.shape[0] == 0:
            reason, msg = self._missing(bpool, cpool, b.shape[0], c.shape[0], (len(baseline), len(current)))
            fields = tested_fields(self.delta_field, None, None, missing=msg)
            fields.update(tested_fields(f"{p}_mean_delta_pct", None, None, missing=msg))
            fields[f"{p}_paired_pct"] = plain_field(None, msg)
            fields.update({k: plain_field(None, msg) for k in self.side_fields(None)})
            return no_data(self, reason, msg[0].upper() + msg[1:], fields)

        opts = self.options
        b_med, c_med = median(b), median(c)
        delta = pct_delta(b_med, c_med)
        boot = bootstrap_pct(b, c, "median", resamples=opts.resamples, seed=opts.seed, alpha=opts.alpha)
        ci = boot.ci if boot else None  # Kalibra's percentile CI: metadata.ci_95 and direction
        gate_ci = boot.gate_ci if boot else None
        mboot = bootstrap_pct(b, c, "mean", resamples=opts.resamples, seed=opts.seed, alpha=opts.alpha)
        mean_delta = pct_delta(mean(b), mean(c))
        mean_ci = mboot.gate_ci if mboot else None
        paired, paired_why = self._paired(baseline, b_raw, b_task, current, c_raw, c_task)

        warnings = []
        if self.coverage_warning:
            warnings = _coverage_warnings(self.what, b.shape[0], bpool, c.shape[0], cpool)
        for label, n_inf in (("baseline", b_inf), ("current", c_inf)):
            if n_inf:
                warnings.append(f"{n_inf} infinite {self.what} value(s) in {label} ignored")

        for which, bt in (("median", boot), ("mean", mboot)):
            if bt is not None and bt.note:
                warnings.append(f"{self.what.capitalize()}, {which} change: {bt.note}")

        no_ci = _no_ci_reason(b.shape[0], c.shape[0])
        fields = tested_fields(self.delta_field, delta, gate_ci,
                               missing=_why_none(delta, b_med, UNDEFINED), no_ci=no_ci)
        fields.update(tested_fields(f"{p}_mean_delta_pct", mean_delta, mean_ci,
                                    missing=_why_none(mean_delta, mean(b), MEAN_UNDEFINED),
                                    no_ci=no_ci.replace("median", "mean")))
        fields[f"{p}_paired_pct"] = plain_field(paired.pct if paired else None, paired_why)
        warnings.extend(self._mean_warning(delta, gate_ci, mean_delta, mean_ci))
        cur = self.summary(c, current)
        fields.update(self.side_fields(cur))
        return Observation(
            name=self.name, description=self.description,
            direction=self.classify(delta, ci, require_ci=True), delta=delta,
            baseline=self.summary(b, baseline), current=cur,
            metadata={
                "ci_95": ci,
                "ci_95_bca": boot.bca if boot else None,
                "ci_method": boot.method if boot else None,
                "mean_delta_pct": mean_delta,
                "mean_ci_95": mean_ci,
                "mean_ci_method": mboot.method if mboot else None,
                "paired_ratio_pct": paired.pct if paired else None,
                "paired_ci_95": (paired.lo, paired.hi) if paired else None,
                "paired_mde": paired.mde if paired else None,
                "paired_tasks": paired.tasks if paired else 0,
                "resamples": opts.resamples,
            },
            warnings=warnings, fields=fields,
        )

    def _paired(self, bpop: Population, b_raw: np.ndarray, b_task: np.ndarray, cpop: Population,
                c_raw: np.ndarray, c_task: np.ndarray) -> tuple[RatioInterval | None, str]:
        """Paired geometric-mean ratio when the same >= MIN_TASKS tasks have positive values on both
        sides; otherwise None and the reason."""
        _, b_cnt = task_log_means(b_raw, b_task, len(bpop.task_names))
        _, c_cnt = task_log_means(c_raw, c_task, len(cpop.task_names))
        bt = {bpop.task_names[i] for i in np.flatnonzero(b_cnt)}
        ct = {cpop.task_names[i] for i in np.flatnonzero(c_cnt)}
        if bt != ct:
            return None, (f"task sets differ ({len(bt - ct)} task(s) with {self.what} only in the "
                          f"baseline, {len(ct - bt)} only in current): no paired comparison")
        if len(bt) < MIN_TASKS:
            return None, (f"only {len(bt)} task(s) with {self.what} on both sides: the paired "
                          f"comparison needs at least {MIN_TASKS}")
        with np.errstate(all="ignore"):
            r = paired_ratio(b_raw, b_task, bpop.task_names, c_raw, c_task, cpop.task_names)
        if r is None or not all(np.isfinite([r.pct, r.lo, r.hi, r.mde])):
            return None, "the paired comparison could not be computed (non-finite values)"
        return r, ""

    def _mean_warning(self, delta: float | None, ci: tuple[float, float] | None,
                      mean_delta: float | None, mean_ci: tuple[float, float] | None) -> list[str]:
        """A sentence when the median change is not significant but the mean change is."""
        if delta is None or mean_delta is None or ci is None or mean_ci is None:
            return []
        if excludes_zero(ci) or not excludes_zero(mean_ci):
            return []
        mean_field = f"{self.prefix()}_mean_delta_pct"
        return [f"The median change {self.delta_field} = {delta:+.1f} % is not significant (CI "
                f"{_fmt_ci(ci)}), but the mean change {mean_field} = {mean_delta:+.1f} % is (CI "
                f"{_fmt_ci(mean_ci)}): the values shifted away from the median, as in two-peaked data. "
                f"A gate on {mean_field} can decide such a change."]


def _why_none(delta: float | None, base: float, zero_reason: str) -> str | None:
    """Why a % change is None: a zero baseline, or a change too large for a float."""
    if delta is not None:
        return None
    return zero_reason if base == 0 else TOO_LARGE


def _total(values: np.ndarray) -> float | None:
    return total(values)


def _no_ci_reason(nb: int, nc: int) -> str:
    if nb < 2 or nc < 2:
        return f"no confidence interval: needs at least 2 values a side (baseline {nb}, current {nc})"
    return "no confidence interval: more than 20 % of bootstrap resamples had a baseline median of 0"


def _coverage_warnings(what: str, nb: int, bpool: int, nc: int, cpool: int) -> list[str]:
    if nb >= 0.5 * bpool and nc >= 0.5 * cpool:
        return []
    return [f"{what.capitalize()} measured in only {nb} of {bpool} baseline and {nc} of {cpool} "
            "current traces"]
