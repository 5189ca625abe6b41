"""PopulationBuilder: aggregation rules and column freezing."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kalibra_action.traces import population
from kalibra_action.traces.fields import FieldMap
from kalibra_action.traces.load import load_population
from kalibra_action.traces.population import PopulationBuilder, SpanRow, TraceIds


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


def _write_files(tmp: Path) -> list[str]:
    """Two flat files with odd values spread over them (bad numbers are warned per file)."""
    names = []
    for f in range(2):
        lines = []
        for i in range(60):
            spans = [{"span_id": f"{i}-{k}", "name": f"n{k % 4}", "parent_id": None if k == 0 else f"{i}-0",
                      "start_ns": 10**18 + k, "end_ns": 10**18 + 10**9 * (k + 1),
                      "cost": "oops" if (i + k) % 17 == f else 0.5, "error": "yes" if i % 13 == 0 else False}
                     for k in range(i % 5)]
            if i % 11 == 3:
                spans.append({"span_id": "t", "duration_s": 2.5})
            lines.append(json.dumps({"trace_id": f"t{f}-{i}", "outcome": i % 2 == 0, "spans": spans,
                                     "input_tokens": "many" if i == 9 else i}))
        (tmp / f"f{f}.jsonl").write_text("\n".join(lines) + "\n")
        names.append(str(tmp / f"f{f}.jsonl"))
    return names


def test_small_chunks_build_the_same_population(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _write_files(tmp_path)
    whole = load_population(files, label="b")
    monkeypatch.setattr(population, "SPAN_CHUNK", 7)
    monkeypatch.setattr(population, "TRACE_CHUNK", 5)
    chunked = load_population(files, label="b")
    assert any("f0.jsonl: " in w and "span cost" in w for w in whole.warnings)
    assert any("f1.jsonl: " in w and "span cost" in w for w in whole.warnings)
    for name in whole.__dataclass_fields__:
        a, b = getattr(whole, name), getattr(chunked, name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
        else:
            assert a == b, name
    assert not np.isnan(whole.span_duration).all() and 2.5 in whole.span_duration


def test_trace_ids_are_a_compact_sequence() -> None:
    ids = TraceIds.of(["a", "", "ünï", "b__c__1"])
    assert len(ids) == 4 and list(ids) == ["a", "", "ünï", "b__c__1"]
    assert ids[2] == "ünï" and ids[-1] == "b__c__1" and ids[0] == "a" and ids[1:3] == ["", "ünï"]
    assert ids.lengths().tolist() == [1, 0, 3, 7] and ids.to_array().dtype == object
    both = TraceIds.concat([ids, TraceIds.of(["z"])])
    assert list(both) == [*ids, "z"] and both == [*ids, "z"] and both != ["a"]
    assert pickle.loads(pickle.dumps(both, protocol=5)) == both
    assert list(TraceIds()) == [] and "n=4" in repr(ids)


def test_cli_import_needs_no_numpy() -> None:
    code = "import sys, kalibra_action.cli; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_fast_and_span_by_span_paths_agree(tmp_path: Path) -> None:
    """Odd span timing keys, names and flags read the same whether the builder reads the span objects
    in chunks (fast path) or the reader normalises them one by one (a mapped span field forces that)."""
    spans = [{"span_id": "a", "name": "plan", "start_ns": 10**18, "end_ns": 10**18 + 10**9, "cost": 1},
             {"span_id": "b", "parent_id": "a", "name": 7, "start_ns": 10**18},  # no end: ends at its start
             {"span_id": "c", "parent_id": "a", "start_ns": 10**18, "end_ns": None, "error": "yes"},
             {"span_id": "d", "parent_id": "a", "name": ["x"], "start_time": "2025-01-01T00:00:01Z",
              "end_time": "2025-01-01T00:00:03.5Z", "cost": "0.5"},
             {"span_id": "e", "parent_id": "d", "name": "", "duration_s": 4.25, "error": 1},
             {"span_id": "f", "parent_id": "d", "name": None, "start_time": "bad", "input_tokens": "12"}]
    path = tmp_path / "t.jsonl"
    rows = (json.dumps({"trace_id": f"t{i}", "spans": spans[i % 3:]}) for i in range(9))
    path.write_text("\n".join(rows) + "\n")
    fast = load_population([str(path)], label="b")
    slow = load_population([str(path)], label="b", fields=FieldMap(cost="cost"))
    for name in fast.__dataclass_fields__:
        a, b = getattr(fast, name), getattr(slow, name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
        else:
            assert a == b, name
    assert fast.span_duration[:6].tolist()[:2] == [1.0, 0.0] and math.isnan(fast.span_duration[2])
    assert fast.span_duration[3:5].tolist() == [2.5, 4.25] and fast.span_error[:6].tolist() == [
        False, False, True, False, True, False]
    assert any("span start_time" in w for w in fast.warnings)
