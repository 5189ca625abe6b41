"""Field mapping: dot paths, outcome words, task ids, mapped fields in each format."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from kalibra_action.traces.fields import (
    MISSING,
    FieldMap,
    classify_outcome,
    resolve_path,
    task_from_trace_id,
)
from kalibra_action.traces.load import load_population
from kalibra_action.traces.where import parse_matcher


def write(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.mark.parametrize(("obj", "path", "expected"), [
    ({"a.b": 1, "a": {"b": 2}}, "a.b", 1),  # flat key first
    ({"a": {"b": 2}}, "a.b", 2),
    ({"a": {"b.c": 3}}, "a.b.c", 3),  # dotted key one level down
    ({"a": '{"b": 4}'}, "a.b", 4),  # JSON string holding an object
    ({"a": [{"b": 5}]}, "a.0.b", 5),
    ({"a": {"b": None}}, "a.b", None),
    ({"a": {"b": 2}}, "a.c", MISSING),
    ({"a": 1}, "a.b", MISSING),
    ({}, "x", MISSING),
])
def test_resolve_path(obj: dict, path: str, expected: object) -> None:
    found = resolve_path(obj, path)
    assert found is MISSING if expected is MISSING else found == expected


@pytest.mark.parametrize(("value", "code"), [
    ("success", 1), ("PASSED", 1), (" resolved ", 1), (True, 1), (1, 1), ("1", 1), (1.0, 1),
    ("failure", 0), ("Error", 0), (False, 0), (0, 0), ("fail", 0),
    ("maybe", -1), (None, -1), (2, -1), ({"a": 1}, -1), (MISSING, -1),
])
def test_classify_outcome(value: object, code: int) -> None:
    assert classify_outcome(value) == code


@pytest.mark.parametrize(("trace_id", "task"), [
    ("parse-invoice__baseline__0", "parse-invoice"),
    ("a__b__c__12", "a__b"),
    ("a__b", "a__b"),  # fewer than three parts
    ("a__b__x", "a__b__x"),  # last part not digits
    ("plain", "plain"),
    ("", ""),
])
def test_task_from_trace_id(trace_id: str, task: str) -> None:
    assert task_from_trace_id(trace_id) == task


def test_fieldmap_merge_override_wins() -> None:
    merged = FieldMap(task_id="a", cost="c").merge(FieldMap(task_id="b"))
    assert merged == FieldMap(task_id="b", cost="c")
    assert FieldMap(task_id="a").merge(None) == FieldMap(task_id="a")


def _four_and_four(tmp_path: Path) -> str:
    rows = [{"trace_id": f"r{i}", "outcome": "success" if i < 4 else "failure",
             "metadata": {"task_name": "t1" if i % 2 else "t2", "nested": {"team": "x"}}} for i in range(8)]
    return write(tmp_path / "t.jsonl", rows)


def test_dotted_task_id_on_flat_traces(tmp_path: Path) -> None:
    """Kalibra bug 1: `metadata.task_name` was ignored, making every trace its own task."""
    path = _four_and_four(tmp_path)
    for field in ("metadata.task_name", "task_name"):
        pop = load_population([path], label="b", fields=FieldMap(task_id=field))
        assert sorted(pop.task_names) == ["t1", "t2"]
        assert pop.task_names[pop.task[1]] == "t1"


def test_task_falls_back_to_trace_id_rule(tmp_path: Path) -> None:
    path = write(tmp_path / "t.jsonl", [{"trace_id": "job__m__1", "metadata": {"task": "x"}, "cost": 1},
                                        {"trace_id": "job__m__2", "cost": 1}])
    pop = load_population([path], label="b", fields=FieldMap(task_id="task"))
    assert [pop.task_names[c] for c in pop.task] == ["x", "job"]
    unmapped = load_population([path], label="b")  # metadata.task is not used unless mapped (as Kalibra)
    assert [unmapped.task_names[c] for c in unmapped.task] == ["job", "job"]


def test_trace_id_mapping_honoured_with_forced_flat_format(tmp_path: Path) -> None:
    """Kalibra bug 15: `--trace-format flat` dropped the trace_id mapping."""
    path = write(tmp_path / "t.jsonl", [{"id": "a__m__1", "trace_id": "x", "cost": 1},
                                        {"id": "a__m__2", "trace_id": "y", "cost": 1}])
    for fmt in (None, "flat", "auto"):
        pop = load_population([path], label="b", fields=FieldMap(trace_id="id"), fmt=fmt)
        assert list(pop.trace_id) == ["a__m__1", "a__m__2"]
        assert pop.task_names == ("a",)


def test_mapped_outcome_cost_tokens_duration(tmp_path: Path) -> None:
    rows = [
        {"trace_id": "1", "result": {"passed": True}, "usage": {"usd": "0.5", "in": 10, "out": 5}, "secs": 2},
        {"trace_id": "2", "result": {"passed": False}, "usage": {"usd": 1.5, "in": 7.9}, "secs": "bad"},
        {"trace_id": "3", "outcome": "success"},
    ]
    fm = FieldMap(outcome="result.passed", cost="usage.usd", input_tokens="usage.in",
                  output_tokens="usage.out", duration="secs")
    pop = load_population([write(tmp_path / "t.jsonl", rows)], label="b", fields=fm)
    assert pop.outcome.tolist() == [1, 0, 1]
    assert pop.cost[:2].tolist() == [0.5, 1.5] and math.isnan(pop.cost[2])
    assert pop.input_tokens[:2].tolist() == [10, 7]  # tokens are whole numbers, as in Kalibra
    assert pop.output_tokens[0] == 5 and math.isnan(pop.output_tokens[1])
    assert pop.duration[0] == 2 and math.isnan(pop.duration[1])
    assert any("duration" in w and "1 value" in w for w in pop.warnings)


def test_mapped_outcome_wins_over_native_and_falls_back(tmp_path: Path) -> None:
    rows = [{"trace_id": "1", "outcome": "success", "verdict": "fail"},
            {"trace_id": "2", "outcome": "success"}]
    pop = load_population([write(tmp_path / "t.jsonl", rows)], label="b", fields=FieldMap(outcome="verdict"))
    assert pop.outcome.tolist() == [0, 1]


def test_trace_level_values_used_when_spans_lack_them(tmp_path: Path) -> None:
    """Kalibra bug 3: trace-level cost/tokens/duration were ignored when a trace had spans."""
    rows = [{"trace_id": "1", "cost": 0.25, "input_tokens": 100, "output_tokens": 20, "duration_s": 3.5,
             "spans": [{"span_id": "a", "name": "step"}, {"span_id": "b", "name": "tool", "parent_id": "a"}]},
            {"trace_id": "2", "cost": 9.0,
             "spans": [{"span_id": "a", "cost": 0.1}, {"span_id": "b", "cost": 0.2}]}]
    pop = load_population([write(tmp_path / "t.jsonl", rows)], label="b")
    assert pop.cost.tolist() == pytest.approx([0.25, 0.3])  # span sum wins when spans carry cost
    assert pop.input_tokens[0] == 100 and pop.output_tokens[0] == 20
    assert pop.duration[0] == 3.5
    assert pop.steps.tolist() == [1, 2]


def test_where_traverses_metadata_and_root_span(tmp_path: Path) -> None:
    rows = [
        {"trace_id": "1", "metadata": {"env": {"name": "prod"}, "ok": True}, "cost": 1},
        {"trace_id": "2", "metadata": {"env": {"name": "dev"}, "ok": False}, "cost": 1},
        {"trace_id": "3", "spans": [{"span_id": "r", "attributes": {"ok": True}}]},
    ]
    path = write(tmp_path / "t.jsonl", rows)
    def ids(*exprs: str) -> list[str]:
        return list(load_population([path], label="b", where=[parse_matcher(e) for e in exprs]).trace_id)
    assert ids("metadata.env.name == prod") == ["1"]
    assert ids("env.name == dev") == ["2"]
    assert ids("ok == true") == ["1", "3"]  # root span attributes are the fallback
    assert ids("ok == true", "metadata.env.name =~ pr.*") == ["1"]


def test_where_on_span_formats_uses_root_attributes(examples: Path) -> None:
    path = str(examples / "otel_genai/traces.jsonl")
    base = load_population([path], label="b", where=[parse_matcher("variant == baseline")],
                           fields=FieldMap(task_id="task.id"))
    cur = load_population([path], label="c", where=[parse_matcher("variant = 'current'")])
    assert len(base) + len(cur) == base.total_before_filter == 200
    assert len(base) == 100
    runs = load_population([path], label="b", where=[parse_matcher("task.run_id == 3")])
    assert 0 < len(runs) < 200  # a number in the data matches the number in the expression


def test_task_id_only_fast_path_matches_the_general_lookup(tmp_path) -> None:
    """Only task_id mapped takes a shortcut; a `where` that keeps everything forces the general path."""
    from kalibra_action.traces.load import load_population
    from kalibra_action.traces.where import parse_matcher

    rows = [{"trace_id": "a__m__1", "metadata": {"task_id": "T1"}, "cost": 1},
            {"trace_id": "a__m__2", "metadata": {"task_id": None}, "task_id": None},
            {"trace_id": "b__m__3", "task_id": 7},
            {"trace_id": "c__m__4", "metadata": '{"task_id": "T2"}'},
            {"trace_id": "d__m__5", "attributes": {"task_id": "A"}, "metadata": {"task_id": "M"}},
            {"trace_id": "e__m__6", "metadata.task_id": True},
            {"trace_id": "f__m__7"}]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    everything = [parse_matcher("trace_id =~ .*")]
    for task_path in ("metadata.task_id", "task_id", "trace_id"):
        fm = FieldMap(task_id=task_path)
        fast = load_population([str(path)], label="b", fields=fm)
        general = load_population([str(path)], label="b", fields=fm, where=everything)
        tasks = [fast.task_names[c] for c in fast.task]
        assert tasks == [general.task_names[c] for c in general.task], task_path
    assert tasks == [r["trace_id"] for r in rows]  # task_id = trace_id, as mapped (no __ rule)
    fast = load_population([str(path)], label="b", fields=FieldMap(task_id="metadata.task_id"))
    assert [fast.task_names[c] for c in fast.task] == ["T1", "a", "b", "T2", "M", "true", "f"]
