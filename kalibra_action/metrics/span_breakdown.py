"""span_breakdown: per span name present on both sides, bootstrap CIs of the median % change of
duration, cost and tokens, and a z-test on the error share; Kalibra's classification rules.

A dimension counts when its CI exists and excludes 0 and |delta| exceeds the noise floor; errors
count when p < .05 and |Δ| > 1 pp. Names with < 30 occurrences on a side are "unchanged".
span_regressions counts regressed + mixed names. Spans are grouped with one stable argsort.
"""

from __future__ import annotations

import itertools
from typing import ClassVar

import numpy as np

from kalibra_action.metrics._common import no_data, plain_field
from kalibra_action.metrics.base import FieldSpec, Metric
from kalibra_action.result import Direction, Observation
from kalibra_action.stats import bootstrap_pct, median, pct_delta, two_proportion_z
from kalibra_action.traces.population import Population

MIN_COUNT = 30
ERROR_PP = 1.0


def _groups(pop: Population) -> dict[str, np.ndarray]:
    """{span name: indices of its spans}; unnamed spans are left out."""
    order = np.argsort(pop.span_name, kind="stable")
    names = pop.span_name[order]
    starts = np.flatnonzero(np.r_[True, names[1:] != names[:-1]]) if names.size else np.array([], int)
    bounds = np.r_[starts, names.size]
    return {pop.span_names[names[s]]: order[s:e] for s, e in itertools.pairwise(bounds)
            if names[s] >= 0}


def _dims(pop: Population, idx: np.ndarray) -> dict[str, np.ndarray]:
    dur = pop.span_duration[idx]
    cost = pop.span_cost[idx]
    tok = pop.span_tokens[idx] if idx.size else np.zeros(0)
    return {"duration": dur[dur > 0], "cost": cost[np.isfinite(cost)], "tokens": tok[np.isfinite(tok)]}


def _stats(d: dict[str, np.ndarray], errors: int, count: int) -> dict:
    return {"median_duration": median(d["duration"]), "median_cost": median(d["cost"]),
            "median_tokens": median(d["tokens"]),
            "error_rate": round(errors / count * 100, 1) if count else 0}


class SpanBreakdownMetric(Metric):
    name = "span_breakdown"
    description = "Per-span-name regression and improvement detection"
    noise_threshold = 5.0
    higher_is_better = True
    fields: ClassVar[dict[str, FieldSpec]] = {
        "span_regressions": FieldSpec("Span names that regressed, mixed ones included"),
        "span_improvements": FieldSpec("Span names that improved"),
    }

    def compare(self, baseline: Population, current: Population) -> Observation:
        bg, cg = _groups(baseline), _groups(current)
        matched = sorted(bg.keys() & cg.keys())
        if not matched:
            msg = "no span name occurs in both baseline and current"
            return no_data(self, "no matching spans", msg[0].upper() + msg[1:],
                           {k: plain_field(None, msg) for k in self.fields})
        matched, warnings = self._cap(matched, bg, cg)
        buckets: dict[str, list] = {"regressed": [], "improved": [], "mixed": [], "unchanged": []}
        per_span = {}
        for name in matched:
            entry = self._one(name, baseline, bg[name], current, cg[name])
            per_span[name] = entry
            buckets[entry["direction"]].append(entry if entry["direction"] != "unchanged" else name)
        n_reg, n_imp, n_mix = len(buckets["regressed"]), len(buckets["improved"]), len(buckets["mixed"])
        if (n_reg and n_imp) or (n_mix and not n_reg and not n_imp):
            direction = Direction.INCONCLUSIVE
        elif n_reg:
            direction = Direction.DEGRADATION
        elif n_imp:
            direction = Direction.UPGRADE
        else:
            direction = Direction.SAME
        return Observation(
            name=self.name, description=self.description, direction=direction,
            baseline={"span_names": len(bg), "matched": len(matched)},
            current={"span_names": len(cg), "matched": len(matched)},
            metadata={"matched": len(matched), "regressions": buckets["regressed"],
                      "improvements": buckets["improved"], "mixed": buckets["mixed"],
                      "n_regressions": n_reg, "n_improvements": n_imp, "n_mixed": n_mix,
                      "n_regressions_for_gate": n_reg + n_mix, "per_span": per_span},
            warnings=warnings,
            fields={"span_regressions": plain_field(float(n_reg + n_mix)),
                    "span_improvements": plain_field(float(n_imp))},
        )

    def _cap(self, matched: list[str], bg: dict, cg: dict) -> tuple[list[str], list[str]]:
        """At most `max_span_names` (limits.max_span_names) names, the most frequent, each costing three
        bootstraps; the others are left out with a warning."""
        cap = self.config.get("max_span_names")
        if not isinstance(cap, int) or len(matched) <= cap:
            return matched, []
        busiest = sorted(matched, key=lambda n: (-(bg[n].size + cg[n].size), n))[:cap]
        return sorted(busiest), [f"{len(matched):,} span names occur on both sides: only the {cap:,} most "
                                 "frequent are compared (limits.max_span_names)"]

    def _one(self, name: str, bpop: Population, bidx: np.ndarray, cpop: Population,
             cidx: np.ndarray) -> dict:
        bd, cd = _dims(bpop, bidx), _dims(cpop, cidx)
        bn, cn = int(bidx.size), int(cidx.size)
        be, ce = int(np.count_nonzero(bpop.span_error[bidx])), int(np.count_nonzero(cpop.span_error[cidx]))
        bst, cst = _stats(bd, be, bn), _stats(cd, ce, cn)
        o = self.options
        cis, deltas = {}, {}
        worse = better = False
        for dim in ("duration", "tokens", "cost"):
            boot = bootstrap_pct(bd[dim], cd[dim], "median", resamples=o.resamples, seed=o.seed,
                                 alpha=o.alpha, bca=False)  # Kalibra's percentile rule only
            ci = boot.ci if boot else None
            delta = pct_delta(bst[f"median_{dim}"], cst[f"median_{dim}"]) or 0
            cis[dim], deltas[dim] = ci, delta
            if ci is None or ci[0] <= 0 <= ci[1] or abs(delta) <= self.noise_threshold:
                continue
            worse, better = worse or delta > 0, better or delta < 0
        err_pp = cst["error_rate"] - bst["error_rate"]
        if be + ce > 0:
            _, p = two_proportion_z(bn, be, cn, ce)
            if p < 0.05 and abs(err_pp) > ERROR_PP:
                worse, better = worse or err_pp > 0, better or err_pp < 0
        small = min(bn, cn)
        if small < MIN_COUNT:
            direction = "unchanged"
        else:
            direction = ("mixed" if worse and better else "regressed" if worse
                         else "improved" if better else "unchanged")
        return {
            "span_name": name,
            "baseline": {**bst, "count": bn}, "current": {**cst, "count": cn},
            "deltas": {"duration_pct": deltas["duration"], "cost_pct": deltas["cost"],
                       "tokens_pct": deltas["tokens"], "error_rate_pp": round(err_pp, 1)},
            "ci_95": {"duration": cis["duration"], "tokens": cis["tokens"], "cost": cis["cost"]},
            "warning": f"only {small} occurrences on one side (fewer than {MIN_COUNT})"
            if small < MIN_COUNT else None,
            "direction": direction,
        }
