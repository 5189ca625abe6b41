"""inspect_paths: coverage, metadata keys and suggested field mappings."""

from __future__ import annotations

import json
from pathlib import Path

from kalibra_action.traces.inspect import inspect_paths


def test_inspect_flat_demo(examples: Path) -> None:
    report = inspect_paths([str(examples / "demo_data/baseline.jsonl")])
    assert (report.format, report.n_traces, report.n_spans) == ("flat", 100, 415)
    assert report.coverage["outcome"].count == 100 and report.coverage["cost"].share == 1.0
    key = report.metadata["task_id"]
    assert key.count == 100 and key.distinct == 20 and len(key.examples) == 5
    assert report.suggestions == {"task_id": "task_id"}


def test_inspect_span_format_suggests_task_id(examples: Path) -> None:
    report = inspect_paths([str(examples / "otel_genai/traces.jsonl")])
    assert (report.format, report.n_traces) == ("otel-genai", 200)
    assert report.coverage["cost"].count == 0
    assert report.suggestions.get("task_id") == "task.id"
    assert report.suggested_fields.task_id == "task.id"
    keys = set(report.metadata)
    assert report.metadata["variant"].examples == ("current", "baseline")
    assert {"variant", "task.id", "task.run_id"} <= keys
    assert not any(k.startswith("gen_ai.usage.") for k in keys)


def test_inspect_suggests_outcome_and_cost(tmp_path: Path) -> None:
    rows = [{"trace_id": f"r{i}", "result": {"status": "passed" if i % 3 else "failed"},
             "usage": {"total_cost": 0.01 * i}, "problem_id": f"p{i % 4}"} for i in range(12)]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = inspect_paths(["t.jsonl"], base_dir=tmp_path)
    assert report.coverage["outcome"].count == 0
    assert report.suggestions == {"task_id": "problem_id", "outcome": "result.status",
                                  "cost": "usage.total_cost"}
