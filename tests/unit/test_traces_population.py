"""PopulationBuilder: aggregation rules and column freezing."""

from __future__ import annotations

import math

import numpy as np

from kalibra_action.traces.population import PopulationBuilder, SpanRow


def test_add_trace_aggregates_spans_and_falls_back_to_trace_values() -> None:
    b = PopulationBuilder(label="b")
    b.add_trace("t1", "task", 1, cost=9.0, input_tokens=50, duration=None, spans=[
        SpanRow("a", None, "plan", cost=0.5, start_ns=1_000_000_000, end_ns=3_000_000_000),
        SpanRow("b", "a", "tool", cost=0.25, output_tokens=7, start_ns=2_000_000_000, end_ns=5_000_000_000,
                error=True),
        SpanRow("c", "a", "", start_ns=0, end_ns=4),
    ])
    b.add_trace("t2", "task", 0, cost=2.0, input_tokens=3, output_tokens=4, duration=1.5)
    pop = b.build()
    assert len(pop) == 2 and pop.task_names == ("task",)
    assert pop.cost.tolist() == [0.75, 2.0]
    assert math.isnan(pop.input_tokens[0]) and pop.output_tokens[0] == 7  # spans carry tokens
    assert pop.tokens.tolist() == [7, 7]
    assert pop.duration.tolist() == [4.0, 1.5]  # max end - min start over timed spans
    assert pop.steps.tolist() == [2, 0] and pop.n_spans.tolist() == [3, 0]
    assert pop.span_trace.tolist() == [0, 0, 0]
    assert pop.span_name.tolist() == [0, 1, -1] and pop.span_names == ("plan", "tool")
    assert pop.span_duration[:2].tolist() == [2.0, 3.0] and math.isnan(pop.span_duration[2])
    assert pop.span_error.tolist() == [False, True, False]


def test_overflowing_sums_become_not_measured() -> None:
    b = PopulationBuilder(label="b")
    b.add_trace("t", "t", 1, spans=[SpanRow("a", None, "x", cost=1e308), SpanRow("b", None, "x", cost=1e308)])
    pop = b.build()
    assert math.isnan(pop.cost[0]) and any("too large" in w for w in pop.warnings)


def test_empty_builder() -> None:
    pop = PopulationBuilder(label="b").build()
    assert len(pop) == 0 and pop.span_trace.dtype == np.int32 and pop.cost.size == 0
