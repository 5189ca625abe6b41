"""Langfuse observations (an API page) and scores (one a line), as the SDK serialises them
(tests/data/formats/langfuse).

The expected numbers come from the raw files with the standard library: a run is a root observation (no
parentObservationId); its task is metadata.dataset_item_id; it passes when its chosen score's value is
≥ 1; a root with level ERROR is an error with no outcome; tokens (usageDetails) and cost (costDetails.total)
are the sums over its child generations; its duration is endTime − startTime.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from kalibra_action.errors import InputError
from kalibra_action.traces.convert import convert_lines
from kalibra_action.traces.load import load_population
from kalibra_action.traces.registry import ReadOptions
from tests.fixtures.cli import call
from tests.fixtures.task_numbers import assert_same_numbers, task_numbers

DIR = Path(__file__).resolve().parents[1] / "data" / "formats" / "langfuse"
CHOSEN = ReadOptions(outcome_annotation="correctness")


def observations(side: str) -> list[dict]:
    return json.loads((DIR / f"{side}.observations.json").read_text(encoding="utf-8"))["data"]


def scores(side: str) -> list[dict]:
    text = (DIR / f"{side}.scores.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def files(side: str) -> list[str]:
    return [str(DIR / f"{side}.observations.json"), str(DIR / f"{side}.scores.jsonl")]


def raw_numbers(side: str, score_name: str = "correctness") -> dict:
    obs = observations(side)
    value = {s["traceId"]: s["value"] for s in scores(side) if s["name"] == score_name}
    children = defaultdict(list)
    for o in obs:
        if o.get("parentObservationId"):
            children[o["traceId"]].append(o)
    out: dict = defaultdict(lambda: {"k": 0, "n": 0, "errors": 0, "in": 0, "out": 0, "cost": 0.0,
                                     "durations": []})
    for root in (o for o in obs if not o.get("parentObservationId")):
        t = out[root["metadata"]["dataset_item_id"]]
        if root["level"] == "ERROR":
            t["errors"] += 1
        elif root["traceId"] in value:
            t["n"] += 1
            t["k"] += value[root["traceId"]] >= 1
        for child in children[root["traceId"]]:
            t["in"] += child["usageDetails"]["input"]
            t["out"] += child["usageDetails"]["output"]
            t["cost"] += child["costDetails"]["total"]
        start, end = (datetime.fromisoformat(root[k]) for k in ("startTime", "endTime"))
        t["durations"].append((end - start).total_seconds())
    for t in out.values():
        t["durations"].sort()
    return dict(out)


def pop_numbers(pop) -> dict:
    first_error: dict[int, int] = defaultdict(int)
    seen: set[int] = set()
    for trace, error in zip(pop.span_trace, pop.span_error, strict=True):
        if int(trace) not in seen and error:  # the root observation is each trace's first span
            first_error[int(trace)] += 1
        seen.add(int(trace))
    return task_numbers(pop, first_error)

def assert_same(got: dict, want: dict) -> None:
    assert_same_numbers(got, want, cost_rel=1e-12, duration_rel=1e-9)

@pytest.mark.parametrize("side", ["baseline", "current"])
def test_observations_joined_with_scores_read_to_the_numbers_in_the_files(side: str) -> None:
    pop = load_population(files(side), label=side, options=CHOSEN)
    assert pop.format == "langfuse"
    want = raw_numbers(side)
    assert_same(pop_numbers(pop), want)
    assert sum(t["errors"] for t in want.values()) == (1 if side == "current" else 0)
    assert not any("no traces in this file" in w for w in pop.warnings)


def test_two_score_names_are_an_error_listing_both_and_either_can_be_chosen() -> None:
    with pytest.raises(InputError) as err:
        load_population(files("current"), label="current")
    assert "correctness, verdict" in str(err.value) and "outcome_annotation" in str(err.value)
    verdict = load_population(files("current"), label="current",
                              options=ReadOptions(outcome_annotation="verdict"))
    assert_same(pop_numbers(verdict), raw_numbers("current", "verdict"))


def test_convert_to_jsonl_reads_back_to_the_same_numbers(tmp_path: Path) -> None:
    converted = tmp_path / "converted.jsonl"
    converted.write_text("".join(convert_lines(files("current"), options=CHOSEN)), encoding="utf-8")
    again = load_population([str(converted)], label="flat")
    assert again.format == "flat"
    assert_same(pop_numbers(again), raw_numbers("current"))


def test_compare_finds_the_planted_regressions_with_the_score_chosen(tmp_path: Path) -> None:
    base, cur = raw_numbers("baseline"), raw_numbers("current")
    dropped = {task for task in base if cur[task]["k"] / cur[task]["n"] < base[task]["k"] / base[task]["n"]}
    code, out, err = call("compare", str(DIR / "baseline.*"), str(DIR / "current.*"),
                          "--scorer", "correctness", "--format", "json", "--resamples", "200", "-q")
    assert code == 0, err
    report = json.loads(out)
    assert report["baseline"]["format"] == "langfuse"
    per_task = report["metrics"]["trace_breakdown"]["metadata"]["per_task"]
    assert {t["task_id"] for t in per_task if t["naive"] == "regressed"} == dropped and len(dropped) == 2


def test_observations_as_json_lines_read_the_same(tmp_path: Path) -> None:
    path = tmp_path / "observations.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in observations("baseline")), encoding="utf-8")
    pop = load_population([str(path), str(DIR / "baseline.scores.jsonl")], label="b", options=CHOSEN)
    assert_same(pop_numbers(pop), raw_numbers("baseline"))


def test_two_releases_on_one_side_are_an_error() -> None:
    with pytest.raises(InputError, match="2 langfuse populations"):
        load_population([*files("baseline"), *files("current")], label="b", options=CHOSEN)


HOSTILE = [
    ("usageDetails", {"input": "many", "output": 1}, "usageDetails.input"),
    ("costDetails", {"total": -1.0}, "cost"),
    ("costDetails", [1], "costDetails"),
    ("startTime", 17, "startTime"),
    ("latency", 1e400, "latency"),
    ("traceId", 5, "traceId"),
    ("id", {"a": 1}, "id"),
]


@pytest.mark.parametrize(("key", "value", "named"), HOSTILE, ids=[f"{k}={v!s:.10}" for k, v, _ in HOSTILE])
def test_a_wrong_value_is_an_error_naming_file_item_and_field(tmp_path: Path, key: str, value: object,
                                                              named: str) -> None:
    page = json.loads((DIR / "baseline.observations.json").read_text(encoding="utf-8"))
    target = 1  # a generation
    page["data"][target][key] = value
    path = tmp_path / "observations.json"
    path.write_text(json.dumps(page, indent=2).replace("Infinity", "1e400"), encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_population([str(path), str(DIR / "baseline.scores.jsonl")], label="b", options=CHOSEN)
    message = str(err.value)
    assert f"observations.json: data[{target}]: langfuse observation" in message and named in message, message


def test_a_score_that_is_not_a_number_is_an_error(tmp_path: Path) -> None:
    rows = scores("baseline")
    rows[2]["value"] = "high"
    path = tmp_path / "scores.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(InputError, match=r"scores\.jsonl: line 3: langfuse score: value of"):
        load_population([str(DIR / "baseline.observations.json"), str(path)], label="b", options=CHOSEN)


def test_a_truncated_page_is_an_error_naming_the_format(tmp_path: Path) -> None:
    text = (DIR / "baseline.observations.json").read_text(encoding="utf-8")
    path = tmp_path / "observations.json"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(InputError, match="langfuse page: not valid JSON"):
        load_population([str(path)], label="b")
