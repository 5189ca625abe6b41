"""engine.compare with the real metrics registry on small, seeded populations."""

from __future__ import annotations

import numpy as np
import pytest

from kalibra_action.engine import CompareOptions, compare
from kalibra_action.errors import InputError
from kalibra_action.gates import parse_gates
from kalibra_action.metrics import DEFAULT_METRICS, all_fields
from kalibra_action.metrics.base import StatsOptions
from kalibra_action.result import GateStatus, Result
from kalibra_action.traces.population import Population, PopulationBuilder, SpanRow


def population(label: str, scale: float, seed: int) -> Population:
    rng = np.random.default_rng(seed)
    b = PopulationBuilder(label=label, files=(f"{label}.jsonl",))
    for i in range(60):
        cost = float(rng.lognormal(0, 0.2)) * scale
        spans = [SpanRow("r", None, "root", start_ns=1, end_ns=2_000_000_000),
                 SpanRow("l", "r", "llm", cost=cost, input_tokens=100, output_tokens=50)]
        b.add_trace(f"{label}{i}", f"t{i % 6}", int(i % 5 != 0), cost=cost, spans=spans)
    return b.build()


def run(*gates: str, **kw: object) -> Result:
    parsed = tuple(parse_gates(gates, all_fields(), source="cli"))
    options = CompareOptions(gates=parsed, stats=StatsOptions(resamples=1000), **kw)  # type: ignore[arg-type]
    return compare(population("b", 1.0, 1), population("c", 1.3, 2), options)


def test_clear_cost_rise_fails_and_bounds_are_plain() -> None:
    res = run("cost_delta_pct <= 5", "cost_delta_pct_hi <= 1000", "success_rate >= 50")
    cost, hi, success = res.gates
    assert cost.status is GateStatus.FAIL and cost.actual > 5 and cost.ci is not None
    assert cost.ci[0] > 0  # significant rise
    assert hi.status is GateStatus.PASS and hi.mde is None
    assert success.status is GateStatus.PASS and success.actual == 80.0
    assert not res.passed
    assert res.settings["metrics"] == list(DEFAULT_METRICS)
    assert list(res.observations) == list(DEFAULT_METRICS)


def test_field_of_disabled_metric_is_input_error() -> None:
    with pytest.raises(InputError, match=r"comes from metric 'span_breakdown', which is not enabled"):
        run("span_regressions <= 0", metrics=("cost",))
