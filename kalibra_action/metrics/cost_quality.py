"""cost_quality: cost of successful traces, median % change with a bootstrap CI.

Kalibra bugs 4, 5, 6 fixed via ContinuousMetric.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from kalibra_action.metrics._common import plain_field, tested_specs
from kalibra_action.metrics._continuous import ContinuousMetric, _total
from kalibra_action.metrics.base import FieldSpec
from kalibra_action.result import FieldValue
from kalibra_action.stats import median
from kalibra_action.traces.population import Population


class CostQualityMetric(ContinuousMetric):
    name = "cost_quality"
    description = "Cost per successful trace"
    noise_threshold = 5.0
    delta_field = "cost_quality_delta_pct"
    what = "cost data"
    have = "have a cost"
    successes_only = True
    fields: ClassVar[dict[str, FieldSpec]] = {
        **tested_specs("cost_quality_delta_pct", "Change in cost per success (%)", "%"),
        "cost_per_success": FieldSpec("Median cost per success in the current run", unit="$"),
    }

    def extract(self, pop: Population) -> np.ndarray:
        return pop.cost

    def summary(self, values: np.ndarray, pop: Population) -> dict:
        return {"cost_per_success": median(values), "total_cost": _total(values),
                "successes": int(values.shape[0])}

    def side_fields(self, cur: dict | None) -> dict[str, FieldValue]:
        return {"cost_per_success": plain_field((cur or {}).get("cost_per_success"))}
