"""token_efficiency: tokens of successful traces, median % change with a bootstrap CI.

Kalibra bugs 4, 5, 6 fixed via ContinuousMetric.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from kalibra_action.metrics._common import tested_specs
from kalibra_action.metrics._continuous import ContinuousMetric
from kalibra_action.metrics.base import FieldSpec
from kalibra_action.stats import median
from kalibra_action.traces.population import Population


class TokenEfficiencyMetric(ContinuousMetric):
    name = "token_efficiency"
    description = "Tokens per successful trace"
    noise_threshold = 5.0
    delta_field = "token_efficiency_delta_pct"
    what = "token data"
    have = "have tokens"
    successes_only = True
    fields: ClassVar[dict[str, FieldSpec]] = tested_specs(
        "token_efficiency_delta_pct", "Change in tokens per success (%)", "%")

    def extract(self, pop: Population) -> np.ndarray:
        return pop.tokens

    def summary(self, values: np.ndarray, pop: Population) -> dict:
        return {"tokens_per_success": median(values), "successes": int(values.shape[0])}
