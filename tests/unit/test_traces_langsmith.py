"""LangSmith runs, feedback and examples as the SDK's models write them (tests/data/formats/langsmith).

The expected numbers come from the raw lines with the standard library: a run is a root run (no
parent_run_id); its task is its reference_example_id; it passes when its feedback score is ≥ 1; a root
with status error is an error with no outcome; tokens and cost (Decimal strings) are the sums over its
child llm runs; its duration is end_time − start_time.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from kalibra_action.errors import InputError
from kalibra_action.traces.convert import convert_lines
from kalibra_action.traces.load import load_population
from kalibra_action.traces.outcomes import OUTCOME_SUCCESS, OUTCOME_UNKNOWN
from kalibra_action.traces.registry import ReadOptions
from tests.fixtures.cli import call
from tests.fixtures.task_numbers import assert_same_numbers, task_numbers

DIR = Path(__file__).resolve().parents[1] / "data" / "formats" / "langsmith"


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def side_files(side: str) -> list[str]:
    return [str(DIR / f"{side}.runs.jsonl"), str(DIR / f"{side}.feedback.jsonl"), str(DIR / "examples.jsonl")]


def seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def raw_numbers(side: str) -> dict:
    runs = lines(DIR / f"{side}.runs.jsonl")
    score = {f["run_id"]: f["score"] for f in lines(DIR / f"{side}.feedback.jsonl")}
    children = defaultdict(list)
    for run in runs:
        if run["parent_run_id"] is not None:
            children[run["trace_id"]].append(run)
    out: dict = defaultdict(lambda: {"k": 0, "n": 0, "errors": 0, "in": 0, "out": 0, "cost": Decimal(0),
                                     "durations": []})
    for root in (r for r in runs if r["parent_run_id"] is None):
        t = out[root["reference_example_id"]]
        if root["status"] == "error":
            t["errors"] += 1
        elif root["id"] in score:
            t["n"] += 1
            t["k"] += score[root["id"]] >= 1
        for child in children[root["trace_id"]]:
            t["in"] += child["prompt_tokens"]
            t["out"] += child["completion_tokens"]
            t["cost"] += Decimal(child["total_cost"])
        t["durations"].append(seconds(root["start_time"], root["end_time"]))
    for t in out.values():
        t["durations"].sort()
        t["cost"] = float(t["cost"])
    return dict(out)


def pop_numbers(pop) -> dict:
    root_errors: dict[int, int] = defaultdict(int)
    for trace, error, parent_free in zip(pop.span_trace, pop.span_error, _is_first_span(pop), strict=True):
        if error and parent_free:
            root_errors[int(trace)] += 1
    return task_numbers(pop, root_errors)

def _is_first_span(pop) -> list[bool]:
    """The root run is each trace's first span (runs are written root first)."""
    first, seen = [], set()
    for trace in pop.span_trace:
        first.append(int(trace) not in seen)
        seen.add(int(trace))
    return first


def assert_same(got: dict, want: dict) -> None:
    assert_same_numbers(got, want, cost_rel=1e-12, duration_rel=1e-9)

@pytest.mark.parametrize("side", ["baseline", "current"])
def test_runs_joined_with_feedback_read_to_the_numbers_in_the_lines(side: str) -> None:
    pop = load_population(side_files(side), label=side)
    assert pop.format == "langsmith"
    want = raw_numbers(side)
    assert_same(pop_numbers(pop), want)
    assert sum(t["errors"] for t in want.values()) == (1 if side == "current" else 0)
    assert not any("no traces in this file" in w for w in pop.warnings)


def test_root_sums_are_not_added_to_their_children() -> None:
    runs = lines(DIR / "current.runs.jsonl")
    children_tokens = sum(r["prompt_tokens"] for r in runs if r["parent_run_id"] is not None)
    pop = load_population(side_files("current"), label="current")
    assert float(pop.input_tokens.sum()) == children_tokens  # not twice that


def test_the_root_sums_stand_in_when_the_children_carry_none(tmp_path: Path) -> None:
    runs = lines(DIR / "baseline.runs.jsonl")
    for run in runs:
        if run["parent_run_id"] is not None:
            run["prompt_tokens"] = run["completion_tokens"] = run["total_cost"] = None
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in runs), encoding="utf-8")
    pop = load_population([str(path), str(DIR / "baseline.feedback.jsonl")], label="b")
    roots = [r for r in runs if r["parent_run_id"] is None]
    assert float(pop.input_tokens.sum()) == sum(r["prompt_tokens"] for r in roots)
    assert float(pop.cost.sum()) == pytest.approx(float(sum(Decimal(r["total_cost"]) for r in roots)))


def test_convert_to_jsonl_reads_back_to_the_same_numbers(tmp_path: Path) -> None:
    converted = tmp_path / "converted.jsonl"
    converted.write_text("".join(convert_lines(side_files("current"))), encoding="utf-8")
    again = load_population([str(converted)], label="flat")
    assert again.format == "flat"
    assert_same(pop_numbers(again), raw_numbers("current"))


def test_compare_with_no_flags_finds_the_planted_regressions() -> None:
    base, cur = raw_numbers("baseline"), raw_numbers("current")
    dropped = {task for task in base if cur[task]["k"] / cur[task]["n"] < base[task]["k"] / base[task]["n"]}
    code, out, err = call("compare", str(DIR / "baseline.*.jsonl"), str(DIR / "current.*.jsonl"),
                          "--format", "json", "--resamples", "200", "-q")
    assert code == 0, err
    report = json.loads(out)
    assert report["current"]["format"] == "langsmith"
    per_task = report["metrics"]["trace_breakdown"]["metadata"]["per_task"]
    assert {t["task_id"] for t in per_task if t["naive"] == "regressed"} == dropped and len(dropped) == 2


def _with_feedback(tmp_path: Path, extra: list[dict]) -> list[str]:
    feedback = lines(DIR / "baseline.feedback.jsonl") + extra
    path = tmp_path / "feedback.jsonl"
    path.write_text("".join(json.dumps(f) + "\n" for f in feedback), encoding="utf-8")
    return [str(DIR / "baseline.runs.jsonl"), str(path)]


def test_several_feedback_keys_are_an_error_listing_them_until_one_is_chosen(tmp_path: Path) -> None:
    extra = [{**f, "key": "helpfulness", "score": 0.5} for f in lines(DIR / "baseline.feedback.jsonl")]
    files = _with_feedback(tmp_path, extra)
    with pytest.raises(InputError) as err:
        load_population(files, label="b")
    assert "correctness, helpfulness" in str(err.value) and "outcome_annotation" in str(err.value)
    chosen = load_population(files, label="b", options=ReadOptions(outcome_annotation="helpfulness"))
    assert int((chosen.outcome == OUTCOME_SUCCESS).sum()) == 0  # 0.5 < the default threshold 1
    lenient = load_population(files, label="b", options=ReadOptions(outcome_annotation="helpfulness",
                                                                     score_threshold=0.5))
    assert int((lenient.outcome == OUTCOME_SUCCESS).sum()) == len(lenient)
    with pytest.raises(InputError, match="no feedback key named 'nope'"):
        load_population(files, label="b", options=ReadOptions(outcome_annotation="nope"))


def test_runs_without_feedback_warn_that_nothing_has_an_outcome() -> None:
    pop = load_population([str(DIR / "baseline.runs.jsonl")], label="b")
    assert (pop.outcome == OUTCOME_UNKNOWN).all()
    assert any("no langsmith feedback" in w for w in pop.warnings)


def test_two_experiments_on_one_side_are_an_error() -> None:
    with pytest.raises(InputError, match="2 langsmith populations"):
        load_population([str(DIR / "baseline.runs.jsonl"), str(DIR / "current.runs.jsonl")], label="b")


HOSTILE = [
    ("runs", "prompt_tokens", "many", "prompt_tokens"),
    ("runs", "completion_tokens", -3, "completion_tokens"),
    ("runs", "total_cost", "1e999", "total_cost"),
    ("runs", "total_cost", "cheap", "total_cost"),
    ("runs", "start_time", 1768557600, "start_time"),
    ("runs", "end_time", "yesterday", "end_time"),
    ("runs", "trace_id", None, "trace_id"),
    ("feedback", "score", "high", "score"),
    ("feedback", "key", 3, "key"),
]


@pytest.mark.parametrize(("which", "key", "value", "named"), HOSTILE,
                         ids=[f"{w}.{k}={v!s:.10}" for w, k, v, _ in HOSTILE])
def test_a_wrong_value_is_an_error_naming_file_line_and_field(tmp_path: Path, which: str, key: str,
                                                              value: object, named: str) -> None:
    runs, feedback = lines(DIR / "baseline.runs.jsonl"), lines(DIR / "baseline.feedback.jsonl")
    rows = runs if which == "runs" else feedback
    target = next(i for i, r in enumerate(rows) if which == "feedback" or r["parent_run_id"] is None)
    rows[target][key] = value
    for name, content in (("runs.jsonl", runs), ("feedback.jsonl", feedback)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in content), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_population([str(tmp_path / "runs.jsonl"), str(tmp_path / "feedback.jsonl")], label="b")
    message = str(err.value)
    assert f"{which}.jsonl: line {target + 1}: langsmith" in message and named in message, message


def test_a_line_that_is_no_langsmith_record_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    path.write_text((DIR / "baseline.runs.jsonl").read_text() + '{"hello": 1}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"line 73: not a langsmith run, feedback or example"):
        load_population([str(path)], label="b")
