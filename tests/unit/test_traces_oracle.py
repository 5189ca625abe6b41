"""The loader against Kalibra 0.2.4's own loader on its example files (Kalibra is the oracle)."""

from __future__ import annotations

import math
import warnings
from collections import Counter

import pytest

from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.load import load_population
from tests.conftest import EXAMPLES

kalibra_loader = pytest.importorskip("kalibra.loader")
from kalibra.config import FieldsConfig  # noqa: E402
from kalibra.metrics.trace_breakdown import _extract_task_id  # noqa: E402

CASES = [
    ("demo_data/baseline.jsonl", "flat", None),
    ("demo_data/current.jsonl", "flat", None),
    ("traces/traces.jsonl", "openinference", "task.id"),
    ("crewai/scenario_cost_explosion.jsonl", "openinference", "task.id"),
    ("crewai/scenario_redistribution.jsonl", "openinference", "task.id"),
    ("otel_genai/traces.jsonl", "otel-genai", "task.id"),
]
_OUTCOME = {"success": 1, "failure": 0, None: -1}


def _same(theirs: float | None, ours: float) -> bool:
    if theirs is None:
        return math.isnan(ours)
    return math.isclose(theirs, ours, rel_tol=1e-9, abs_tol=1e-6)


def _kalibra(path: str, task_field: str | None) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kalibra_loader.load_traces(str(EXAMPLES / path), fields=FieldsConfig(task_id=task_field))


@pytest.mark.parametrize(("path", "fmt", "task_field"), CASES)
def test_per_trace_values_match_kalibra(path: str, fmt: str, task_field: str | None) -> None:
    theirs = _kalibra(path, task_field)
    pop = load_population([str(EXAMPLES / path)], label="b", fields=FieldMap(task_id=task_field))
    assert pop.format == fmt
    assert len(pop) == len(theirs)
    assert pop.warnings == ()
    for i, t in enumerate(theirs):
        assert pop.trace_id[i] == t.trace_id
        assert pop.task_names[pop.task[i]] == _extract_task_id(t, task_field)
        assert pop.outcome[i] == _OUTCOME[t.outcome]
        assert _same(t.total_cost, pop.cost[i])
        assert _same(t.total_tokens, pop.tokens[i])
        assert _same(t.duration, pop.duration[i])
        assert pop.steps[i] == len(t.leaf_spans())
        assert pop.n_spans[i] == len(t.spans)


@pytest.mark.parametrize(("path", "fmt", "task_field"), CASES)
def test_span_columns_match_kalibra(path: str, fmt: str, task_field: str | None) -> None:
    theirs = _kalibra(path, task_field)
    pop = load_population([str(EXAMPLES / path)], label="b")
    spans = [s for t in theirs for s in t.spans]
    assert len(pop.span_name) == len(spans)
    names = Counter(pop.span_names[c] if c >= 0 else "" for c in pop.span_name)
    assert names == Counter(s.name for s in spans)
    assert int(pop.span_error.sum()) == sum(s.error for s in spans)
    assert math.isclose(float(pop.span_cost[~(pop.span_cost != pop.span_cost)].sum()),
                        sum(s.cost for s in spans if s.cost is not None), abs_tol=1e-9)
    timed = [s.duration_s for s in spans if s.start_ns and s.end_ns]
    ours = pop.span_duration[pop.span_duration == pop.span_duration]
    assert len(ours) == len(timed)
    # Kalibra rounds ISO timestamps through a float (~0.25 µs); ours are exact nanoseconds
    assert math.isclose(float(ours.sum()), sum(timed), rel_tol=1e-6)
    # every span points at its trace, in order
    assert (pop.span_trace == pop.span_trace[pop.span_trace.argsort(kind="stable")]).all()
    assert list(Counter(pop.span_trace.tolist()).values()) == [n for n in pop.n_spans.tolist() if n]


def test_where_split_matches_kalibra_counts() -> None:
    """crewai configs split one file with `variant == baseline/current` and task ids from task.id."""
    from kalibra_action.traces.where import parse_matcher

    path = str(EXAMPLES / "crewai/scenario_redistribution.jsonl")
    theirs = _kalibra("crewai/scenario_redistribution.jsonl", "task.id")
    for variant in ("baseline", "current"):
        pop = load_population([path], label=variant, fields=FieldMap(task_id="task.id"),
                              where=[parse_matcher(f"variant == {variant}")])
        expected = [t for t in theirs if t.metadata.get("variant") == variant]
        assert len(pop) == len(expected) > 0
        assert pop.total_before_filter == len(theirs)
        assert pop.filters == (f"variant == {variant}",)
        assert Counter(pop.task_names[c] for c in pop.task) == Counter(
            str(t.metadata["task.id"]) for t in expected)
