"""cost: per-trace cost (sum of span costs, else the trace's own), median % change with a bootstrap CI.

Kalibra bugs fixed here (via ContinuousMetric): 4 ($0 → $1 is undefined, not a pass), 5 (significance
independent of the noise floor), 6 (mean change and its CI reported in metadata).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from kalibra_action.metrics._common import plain_field, tested_specs
from kalibra_action.metrics._continuous import ContinuousMetric
from kalibra_action.metrics.base import FieldSpec
from kalibra_action.result import FieldValue
from kalibra_action.traces.population import Population


class CostMetric(ContinuousMetric):
    name = "cost"
    description = "Cost per trace — median, average, and total"
    noise_threshold = 3.0
    delta_field = "cost_delta_pct"
    what = "cost data"
    have = "have a cost"
    coverage_warning = True
    fields: ClassVar[dict[str, FieldSpec]] = {
        **tested_specs("cost_delta_pct", "Median cost change (%)", "%"),
        "total_cost": FieldSpec("Total cost of the current run", unit="$"),
        "avg_cost": FieldSpec("Average cost per trace (current)", unit="$"),
    }

    def extract(self, pop: Population) -> np.ndarray:
        return pop.cost

    def side_fields(self, cur: dict | None) -> dict[str, FieldValue]:
        cur = cur or {}
        return {"total_cost": plain_field(cur.get("total")), "avg_cost": plain_field(cur.get("avg"))}
