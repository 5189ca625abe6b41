"""The shared engine of the six continuous metrics: median % change with a bootstrap CI.

Fixes over Kalibra (0.2.4):
- bug 4: a baseline median of 0 with a non-zero current median makes the % change undefined; the
  gate field is then None with a reason, so a gate on it fails for want of data instead of passing;
- bug 5: FieldValue.significant is the CI verdict alone (the noise floor only shapes `direction`);
- bug 6: the mean change and its bootstrap CI are reported too (metadata mean_delta_pct,
  mean_ci_95), because medians miss shifts in two-peaked data.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from kalibra_action.metrics._common import measured, no_data, plain_field, sides_missing, tested_fields
from kalibra_action.metrics.base import Metric
from kalibra_action.result import FieldValue, Observation
from kalibra_action.stats import bootstrap_pct, mean, median, pct_delta, total
from kalibra_action.traces.population import OUTCOME_SUCCESS, Population

UNDEFINED = "baseline median is 0, % change undefined"


class ContinuousMetric(Metric):
    """Subclasses set delta_field/what/have and implement extract() and summary()."""

    delta_field: ClassVar[str]
    what: ClassVar[str]  # "cost data"
    have: ClassVar[str]  # "have a cost"
    successes_only: ClassVar[bool] = False
    coverage_warning: ClassVar[bool] = False  # warn when under half the traces carry a value
    higher_is_better = False

    def extract(self, pop: Population) -> np.ndarray:
        """Per-trace values, NaN where not measured."""
        raise NotImplementedError

    def summary(self, values: np.ndarray, pop: Population) -> dict:
        """The baseline/current dict of the observation."""
        return {"median": median(values), "avg": mean(values), "total": _total(values)}

    def side_fields(self, cur: dict | None) -> dict[str, FieldValue]:
        """Untested fields read from the current summary (None when there is no data)."""
        return {}

    def _side(self, pop: Population) -> tuple[np.ndarray, int, int]:
        raw = self.extract(pop)
        pool = len(pop)
        if self.successes_only:
            ok = pop.outcome == OUTCOME_SUCCESS
            raw, pool = raw[ok], int(np.count_nonzero(ok))
        values, n_inf = measured(raw)
        return values, pool, n_inf

    def _missing(self, bpool: int, cpool: int, nb: int, nc: int, sizes: tuple[int, int]) -> tuple[str, str]:
        if self.successes_only and (bpool == 0 or cpool == 0):
            msg = sides_missing("successful traces", "succeeded", (bpool, sizes[0]), (cpool, sizes[1]))
            return "no successes", msg
        unit = "successful traces" if self.successes_only else "traces"
        return f"no {self.what}", sides_missing(self.what, self.have, (nb, bpool), (nc, cpool), unit)

    def compare(self, baseline: Population, current: Population) -> Observation:
        b, bpool, b_inf = self._side(baseline)
        c, cpool, c_inf = self._side(current)
        if b.shape[0] == 0 or c.shape[0] == 0:
            reason, msg = self._missing(bpool, cpool, b.shape[0], c.shape[0], (len(baseline), len(current)))
            fields = tested_fields(self.delta_field, None, None, missing=msg)
            fields.update({k: plain_field(None, msg) for k in self.side_fields(None)})
            return no_data(self, reason, msg[0].upper() + msg[1:], fields)

        opts = self.options
        b_med, c_med = median(b), median(c)
        delta = pct_delta(b_med, c_med)
        boot = bootstrap_pct(b, c, "median", resamples=opts.resamples, seed=opts.seed, alpha=opts.alpha)
        ci = boot.ci if boot else None
        mboot = bootstrap_pct(b, c, "mean", resamples=opts.resamples, seed=opts.seed, alpha=opts.alpha)

        warnings = []
        if self.coverage_warning:
            warnings = _coverage_warnings(self.what, b.shape[0], bpool, c.shape[0], cpool)
        for label, n_inf in (("baseline", b_inf), ("current", c_inf)):
            if n_inf:
                warnings.append(f"{n_inf} infinite {self.what} value(s) in {label} ignored")

        missing = UNDEFINED if delta is None else None
        no_ci = _no_ci_reason(b.shape[0], c.shape[0])
        fields = tested_fields(self.delta_field, delta, ci, missing=missing, no_ci=no_ci)
        cur = self.summary(c, current)
        fields.update(self.side_fields(cur))
        return Observation(
            name=self.name, description=self.description,
            direction=self.classify(delta, ci, require_ci=True), delta=delta,
            baseline=self.summary(b, baseline), current=cur,
            metadata={
                "ci_95": ci,
                "mean_delta_pct": pct_delta(mean(b), mean(c)),
                "mean_ci_95": mboot.ci if mboot else None,
                "resamples": opts.resamples,
            },
            warnings=warnings, fields=fields,
        )


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
