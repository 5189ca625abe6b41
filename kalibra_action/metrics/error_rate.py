"""error_rate: error spans / spans per side, delta in pp, pooled two-proportion z-test.

Direction keeps Kalibra's rule (not significant → same). Added: Newcombe 95 % CI of the delta
(spans treated as independent, so it is optimistic when errors cluster in traces) and its MDE.
"""

from __future__ import annotations

import numpy as np

from kalibra_action.metrics._common import no_data, sides_missing, tested_fields, tested_specs
from kalibra_action.metrics.base import Metric
from kalibra_action.result import Direction, Observation
from kalibra_action.stats import newcombe, two_proportion_z
from kalibra_action.traces.population import Population


class ErrorRateMetric(Metric):
    name = "error_rate"
    description = "Per-trace error span rate"
    noise_threshold = 0.5
    higher_is_better = False
    fields = tested_specs("error_rate_delta", "Error rate change (percentage points)", "pp")

    def compare(self, baseline: Population, current: Population) -> Observation:
        bn, cn = int(baseline.span_error.shape[0]), int(current.span_error.shape[0])
        if bn == 0 or cn == 0:
            msg = sides_missing("span data", "have spans", (bn, len(baseline)), (cn, len(current)))
            return no_data(self, "no span data", msg[0].upper() + msg[1:],
                           tested_fields("error_rate_delta", None, None, missing=msg))
        be = int(np.count_nonzero(baseline.span_error))
        ce = int(np.count_nonzero(current.span_error))
        b_rate, c_rate = be / bn * 100, ce / cn * 100
        delta = round(c_rate - b_rate, 2)
        _, p = two_proportion_z(bn, be, cn, ce)
        significant = p < self.options.alpha
        direction = self.classify(delta) if significant else Direction.SAME
        r = newcombe(be, bn, ce, cn)
        ci = (float(r.lo), float(r.hi))
        return Observation(
            name=self.name, description=self.description, direction=direction, delta=delta,
            baseline={"rate": b_rate, "errors": be, "total_spans": bn},
            current={"rate": c_rate, "errors": ce, "total_spans": cn},
            metadata={"pvalue": p, "significant": significant, "ci_95": ci},
            fields=tested_fields("error_rate_delta", delta, ci, significant=significant, mde=float(r.mde)),
        )
