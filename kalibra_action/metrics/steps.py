"""steps: leaf-span count per trace (traces without spans are not measured).

Median % change with a bootstrap CI; Kalibra bugs 4, 5, 6 fixed via ContinuousMetric.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from kalibra_action.metrics._common import plain_field, tested_specs
from kalibra_action.metrics._continuous import ContinuousMetric
from kalibra_action.metrics.base import FieldSpec
from kalibra_action.result import FieldValue
from kalibra_action.stats import mean, median
from kalibra_action.traces.population import Population


class StepsMetric(ContinuousMetric):
    name = "steps"
    description = "Steps per trace — median and average leaf span count"
    noise_threshold = 3.0
    delta_field = "steps_delta_pct"
    what = "span data"
    have = "have spans"
    no_data_reason = "no step data"  # Kalibra's reason (the message still says span data)
    fields: ClassVar[dict[str, FieldSpec]] = {
        **tested_specs("steps_delta_pct", "Median steps change (%)", "%"),
        "avg_steps": FieldSpec("Average steps per trace (current)"),
        "median_steps": FieldSpec("Median steps per trace (current)"),
    }

    def extract(self, pop: Population) -> np.ndarray:
        return np.where(pop.n_spans > 0, pop.steps.astype(np.float64), np.nan)

    def summary(self, values: np.ndarray, pop: Population) -> dict:
        return {"median": median(values), "avg": mean(values)}

    def side_fields(self, cur: dict | None) -> dict[str, FieldValue]:
        cur = cur or {}
        return {"avg_steps": plain_field(cur.get("avg")), "median_steps": plain_field(cur.get("median"))}
