"""token_usage: input + output tokens per trace, median % change with a bootstrap CI.

Kalibra bugs 4, 5, 6 fixed via ContinuousMetric (6 matters here: the shipped otel_genai example has
mean tokens 508 → 135 while the median CI straddles 0).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from kalibra_action.metrics._common import plain_field, tested_specs
from kalibra_action.metrics._continuous import ContinuousMetric, _total
from kalibra_action.metrics.base import FieldSpec
from kalibra_action.result import FieldValue
from kalibra_action.stats import mean, median
from kalibra_action.traces.population import Population


class TokenUsageMetric(ContinuousMetric):
    name = "token_usage"
    description = "Token usage per trace — median, average, and input/output breakdown"
    noise_threshold = 3.0
    delta_field = "token_delta_pct"
    what = "token data"
    have = "have tokens"
    coverage_warning = True
    fields: ClassVar[dict[str, FieldSpec]] = {
        **tested_specs("token_delta_pct", "Median total token change (%)", "%"),
        "total_tokens": FieldSpec("Total tokens in the current run"),
        "avg_tokens": FieldSpec("Average tokens per trace (current)"),
    }

    def extract(self, pop: Population) -> np.ndarray:
        return pop.tokens

    def summary(self, values: np.ndarray, pop: Population) -> dict:
        return {"median": median(values), "avg": mean(values), "total": _total(values),
                "input_tokens": _total(pop.input_tokens[np.isfinite(pop.input_tokens)]),
                "output_tokens": _total(pop.output_tokens[np.isfinite(pop.output_tokens)])}

    def side_fields(self, cur: dict | None) -> dict[str, FieldValue]:
        cur = cur or {}
        return {"total_tokens": plain_field(cur.get("total")), "avg_tokens": plain_field(cur.get("avg"))}
