"""duration: trace wall-clock seconds (explicit, else last span end − first span start).

Median % change with a bootstrap CI; Kalibra bugs 4, 5, 6 fixed via ContinuousMetric.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from kalibra_action.metrics._common import plain_field, tested_specs
from kalibra_action.metrics._continuous import ContinuousMetric
from kalibra_action.metrics.base import FieldSpec
from kalibra_action.result import FieldValue
from kalibra_action.traces.population import Population


class DurationMetric(ContinuousMetric):
    name = "duration"
    description = "Trace duration — median and average"
    noise_threshold = 5.0
    delta_field = "duration_delta_pct"
    what = "duration data"
    have = "have a duration"
    fields: ClassVar[dict[str, FieldSpec]] = {
        **tested_specs("duration_delta_pct", "Median duration change (%)", "%"),
        "total_duration": FieldSpec("Total duration of the current run (seconds)", unit="s"),
    }

    def extract(self, pop: Population) -> np.ndarray:
        return pop.duration

    def side_fields(self, cur: dict | None) -> dict[str, FieldValue]:
        return {"total_duration": plain_field((cur or {}).get("total"))}
